package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/digitops/digitops/daemon/history"
	"github.com/digitops/digitops/internal/statusapi"
)

// The console: three server-rendered views (overview, environment,
// release) on the Backend methods the JSON API serves, a stylesheet and a
// script. The views work without the script; with it, they update live
// (GET /api/v1/events) and carry the operator's actions.

//go:embed console
var consoleFiles embed.FS

// consoleFuncs are the templates' functions: addresses, short forms and
// ages. None returns template.HTML: every value is escaped where it lands.
var consoleFuncs = template.FuncMap{
	"environmentURL":     environmentURL,
	"releaseURL":         releaseURL,
	"releaseAPI":         releaseAPI,
	"short":              shortCommit,
	"ref":                refOf,
	"utc":                utc,
	"when":               newWhen,
	"inc":                func(i int) int { return i + 1 },
	"phases":             func() []statusapi.Phase { return phases },
	"changes":            (*history.Summary).Changes,
	"syncChanges":        syncChanges,
	"firstError":         firstError,
	"environmentActions": environmentActions,
	"releaseActions":     releaseActions,
	"rolloutActions":     rolloutActions,
	"asset":              func(name string) string { return assets[name].path },
	"join":               strings.Join,
}

// views are the console's templates by view, each the layout with the
// partials and its own content.
var views = func() map[string]*template.Template {
	base := template.Must(template.New("").Funcs(consoleFuncs).ParseFS(consoleFiles, "console/layout.html.tmpl", "console/partials.html.tmpl"))
	out := map[string]*template.Template{}
	for _, v := range []string{"overview", "environment", "release", "notfound"} {
		out[v] = template.Must(template.Must(base.Clone()).ParseFS(consoleFiles, "console/"+v+".html.tmpl"))
	}
	return out
}()

// asset is a static file of the console, served at path (its name and a
// digest of its content, so that a new build is never read from a cache).
type asset struct {
	path, contentType string
	body              []byte
}

var assets = func() map[string]asset {
	out := map[string]asset{}
	for name, ct := range map[string]string{"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"} {
		body, err := fs.ReadFile(consoleFiles, "console/"+name)
		if err != nil {
			panic(err)
		}
		if name == "console.css" {
			body = append(body, phaseCSS()...)
		}
		sum := sha256.Sum256(body)
		out[name] = asset{path: "/assets/" + name + "?v=" + hex.EncodeToString(sum[:6]), contentType: ct, body: body}
	}
	return out
}()

// phaseCSS is the badge colour of each phase, with a text colour that
// reads on it (WCAG AA: white on all but the drifted amber).
func phaseCSS() string {
	var b strings.Builder
	for _, p := range phases {
		text := "#fff"
		if p == statusapi.PhaseDrifted {
			text = "#1f2328"
		}
		fmt.Fprintf(&b, ".phase-%s { background: %s; color: %s; }\n", p, PhaseColor(p), text)
	}
	return b.String()
}

// contentSecurityPolicy lets a view run only the console's own script and
// style, and talk only to its own origin: markup that escaped the
// templates would still run nothing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// consoleRoutes adds the console's views and assets to mux.
// The environment and release views are rendered by the replica that owns
// the environment (serve --shard), as the JSON API's reads are.
func (h *handler) consoleRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", h.serveOverview)
	mux.HandleFunc("GET /environments/{env}", h.viewRouted(h.serveEnvironment))
	mux.HandleFunc("GET /environments/{env}/releases/{release}", h.viewRouted(h.serveRelease))
	mux.HandleFunc("GET /assets/{name}", serveAsset)
}

// viewRouted renders a view of an environment where its actions are
// carried out (routed), except that a view is rendered here, from this
// replica's view of the environment, when no replica owns it or a
// forwarded request finds that ownership moved.
func (h *handler) viewRouted(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		target, local := h.backend.Route(r.PathValue("env"))
		if local || target == "" || r.Header.Get(ForwardedHeader) != "" {
			next(w, r)
			return
		}
		h.forward(w, r, target)
	}
}

// serveOverview renders every environment and rollout (Backend.Status).
func (h *handler) serveOverview(w http.ResponseWriter, r *http.Request) {
	st := h.backend.Status(r.Context(), false)
	h.render(w, http.StatusOK, "overview", newOverview(st, parseFilter(r.URL.Query()), h.now()))
}

// serveEnvironment renders an environment: its status, its pending
// changes (Backend.EnvironmentDetail) and its history (Backend.History).
// When the detail cannot be had the status is shown and the plan said
// unavailable.
func (h *handler) serveEnvironment(w http.ResponseWriter, r *http.Request) {
	ctx, name := r.Context(), r.PathValue("env")
	st := h.backend.Status(ctx, false)
	env, found := findEnvironment(st, name)
	detail, detailErr := h.backend.EnvironmentDetail(ctx, name)
	if !found && detailErr != nil {
		h.notFound(w, st, "There is no environment "+name+".")
		return
	}
	doc, historyErr := h.backend.History(ctx, name, "")
	h.render(w, http.StatusOK, "environment", newEnvironmentView(st, env, &detail, detailErr, doc, historyErr, parseFilter(r.URL.Query()), h.now()))
}

// serveRelease renders a release: its detail (Backend.ReleaseDetail), or
// its status row when the detail cannot be had, and the syncs that acted
// on it.
func (h *handler) serveRelease(w http.ResponseWriter, r *http.Request) {
	ctx, name, release := r.Context(), r.PathValue("env"), r.PathValue("release")
	st := h.backend.Status(ctx, false)
	var row statusapi.Release
	env, found := findEnvironment(st, name)
	if found {
		found = false
		for _, rel := range env.Releases {
			if rel.Name == release {
				row, found = rel, true
			}
		}
	}
	detail, detailErr := h.backend.ReleaseDetail(ctx, name, release)
	if detailErr == nil {
		row, found = detail.Release, true
	}
	if !found {
		h.notFound(w, st, "There is no release "+release+" in environment "+name+".")
		return
	}
	doc, historyErr := h.backend.History(ctx, name, release)
	h.render(w, http.StatusOK, "release", newReleaseView(st, name, row, &detail, detailErr, doc, historyErr, h.now()))
}

// findEnvironment is st's environment named name.
func findEnvironment(st statusapi.Status, name string) (statusapi.Environment, bool) {
	for _, e := range st.Environments {
		if e.Name == name {
			return e, true
		}
	}
	return statusapi.Environment{}, false
}

// notFound renders the console's 404 page saying msg.
func (h *handler) notFound(w http.ResponseWriter, st statusapi.Status, msg string) {
	h.render(w, http.StatusNotFound, "notfound", struct {
		page
		Message string
	}{newPage(st, h.now(), "Not found · digitops", "notfound"), msg})
}

// render writes view with data, or a 500 saying why it could not be
// rendered.
func (h *handler) render(w http.ResponseWriter, code int, view string, data any) {
	var buf bytes.Buffer
	if err := views[view].ExecuteTemplate(&buf, "layout", data); err != nil {
		h.opts.Log.Error("unable to render a view of the console", "view", view, "error", err)
		http.Error(w, "unable to render the page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	header := w.Header()
	header.Set("Content-Type", "text/html; charset=utf-8")
	header.Set("Content-Security-Policy", contentSecurityPolicy)
	header.Set("X-Content-Type-Options", "nosniff")
	header.Set("Referrer-Policy", "same-origin")
	header.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// serveAsset serves the console's stylesheet and script.
func serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := assets[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	_, _ = w.Write(a.body)
}

// when is a moment and the clock a view shows it against.
type when struct {
	At, Now time.Time
}

// newWhen is t (a time.Time or a *time.Time; nil is none) seen at now.
func newWhen(now time.Time, t any) (*when, error) {
	switch t := t.(type) {
	case time.Time:
		return &when{At: t, Now: now}, nil
	case *time.Time:
		if t == nil {
			return nil, nil
		}
		return &when{At: *t, Now: now}, nil
	}
	return nil, errors.New("when: not a time")
}

// Age is how long ago the moment was (see age).
func (w when) Age() string { return age(w.Now, w.At) }

// RFC3339 is the moment for a datetime attribute.
func (w when) RFC3339() string { return w.At.UTC().Format(time.RFC3339) }

// utc is t as the console prints it.
func utc(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }
