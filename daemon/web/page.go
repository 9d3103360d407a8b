package web

import (
	"bytes"
	_ "embed"
	"html/template"
	"net/http"
	"time"

	"github.com/digitops/digitops/internal/statusapi"
)

//go:embed page.html.tmpl
var pageSource string

// PhaseColor is the badge colour of a phase on the status page. Tests look
// for it in screenshots.
func PhaseColor(p statusapi.Phase) string {
	switch p {
	case statusapi.PhaseInSync:
		return "#1a7f37"
	case statusapi.PhaseDrifted:
		return "#f59e0b"
	case statusapi.PhaseFailing:
		return "#d1242f"
	case statusapi.PhaseOutOfSync:
		return "#0969da"
	case statusapi.PhasePending:
		return "#8250df"
	case statusapi.PhaseSuspended:
		return "#6e7781"
	}
	return ""
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"color": func(phase statusapi.Phase) template.CSS { return template.CSS(PhaseColor(phase)) },
	"inc":   func(i int) int { return i + 1 },
	"ago": func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return time.Since(*t).Round(time.Second).String() + " ago"
	},
	"phases": func() []statusapi.Phase {
		return []statusapi.Phase{statusapi.PhaseInSync, statusapi.PhaseDrifted, statusapi.PhaseFailing,
			statusapi.PhaseOutOfSync, statusapi.PhasePending, statusapi.PhaseSuspended}
	},
}).Parse(pageSource))

// servePage renders the status page: every rollout with the commit of each
// wave's environments, its soak time left and whether it halted; every
// environment with its phase, revision, last sync and error, and every
// release with its phase and drift items. It refreshes itself every 10 seconds.
func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	renderPage(w, h.backend.Status(r.Context(), false))
}

// renderPage writes the status page of st.
func renderPage(w http.ResponseWriter, st statusapi.Status) {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, st); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}
