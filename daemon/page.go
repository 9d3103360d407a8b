package daemon

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

// PhaseColors are the badge colours of the status page, by phase. Tests
// look for them in screenshots.
var PhaseColors = map[string]string{
	statusapi.PhaseInSync:    "#1a7f37",
	statusapi.PhaseDrifted:   "#f59e0b",
	statusapi.PhaseFailing:   "#d1242f",
	statusapi.PhaseOutOfSync: "#0969da",
	statusapi.PhasePending:   "#8250df",
	statusapi.PhaseSuspended: "#6e7781",
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"color": func(phase string) template.CSS { return template.CSS(PhaseColors[phase]) },
	"ago": func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return time.Since(*t).Round(time.Second).String() + " ago"
	},
	"phases": func() []string {
		return []string{statusapi.PhaseInSync, statusapi.PhaseDrifted, statusapi.PhaseFailing,
			statusapi.PhaseOutOfSync, statusapi.PhasePending, statusapi.PhaseSuspended}
	},
}).Parse(pageSource))

// servePage renders the status page: every environment with its phase,
// revision, last sync and error, and every release with its phase and
// drift items. It refreshes itself every 10 seconds.
func (d *Daemon) servePage(w http.ResponseWriter, _ *http.Request) {
	renderPage(w, d.Status())
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
