package daemon

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/netutil"

	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/rollout"
)

// httpLimits bound what one HTTP client can hold of the server: a
// connection that sends its headers or its body slowly, or stays idle, is
// closed, and at most maxConns connections are open at once (the others
// wait in the kernel's backlog, holding no file descriptor of the daemon,
// which keeps some for its Git fetches and clusters).
type httpLimits struct {
	// readHeader bounds reading a request's headers; read its headers and
	// body; write from the end of the headers to the end of the response;
	// idle a kept-alive connection between requests.
	readHeader, read, write, idle time.Duration
	// maxHeaderBytes bounds a request's headers.
	maxHeaderBytes int
	// maxConns bounds the connections open at once.
	maxConns int
}

// defaultHTTPLimits are the daemon's limits: a webhook body (1 MiB at
// most) has 30 s to arrive.
func defaultHTTPLimits(maxConns int) httpLimits {
	return httpLimits{
		readHeader:     10 * time.Second,
		read:           30 * time.Second,
		write:          60 * time.Second,
		idle:           60 * time.Second,
		maxHeaderBytes: 64 << 10,
		maxConns:       maxConns,
	}
}

// newHTTPServer serves h within l.
func newHTTPServer(h http.Handler, l httpLimits) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.readHeader,
		ReadTimeout:       l.read,
		WriteTimeout:      l.write,
		IdleTimeout:       l.idle,
		MaxHeaderBytes:    l.maxHeaderBytes,
	}
}

// limitListener accepts at most l.maxConns connections open at once.
func limitListener(ln net.Listener, l httpLimits) net.Listener {
	return netutil.LimitListener(ln, l.maxConns)
}

// routes builds the HTTP API:
//
//	GET  /                      status page
//	GET  /metrics               Prometheus metrics
//	GET  /healthz, /readyz      probes
//	GET  /api/v1/status         statusapi.Status as JSON
//	POST /api/v1/environments/{env}/suspend|resume
//	POST /api/v1/environments/{env}/releases/{release}/suspend|resume
//	GET  /api/v1/rollouts       []statusapi.Rollout as JSON
//	POST /api/v1/rollouts/{rollout}/promote|pause|resume|abort
//	POST /hooks/github|gitlab|generic
func (d *Daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.registry, promhttp.HandlerOpts{Registry: d.registry}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !d.ready.Load() {
			http.Error(w, "no environment loaded yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, d.Status())
	})
	for _, verb := range []string{"suspend", "resume"} {
		on := verb == "suspend"
		mux.HandleFunc("POST /api/v1/environments/{env}/"+verb, d.authorized(func(w http.ResponseWriter, r *http.Request) {
			d.setSuspended(w, r.PathValue("env"), "", on)
		}))
		mux.HandleFunc("POST /api/v1/environments/{env}/releases/{release}/"+verb, d.authorized(func(w http.ResponseWriter, r *http.Request) {
			d.setSuspended(w, r.PathValue("env"), r.PathValue("release"), on)
		}))
	}
	mux.HandleFunc("POST /api/v1/environments/{env}/retry", d.authorized(func(w http.ResponseWriter, r *http.Request) {
		d.retry(w, r.PathValue("env"), "")
	}))
	mux.HandleFunc("POST /api/v1/environments/{env}/releases/{release}/retry", d.authorized(func(w http.ResponseWriter, r *http.Request) {
		d.retry(w, r.PathValue("env"), r.PathValue("release"))
	}))
	mux.HandleFunc("POST /api/v1/rollouts/{rollout}/{action}", d.authorized(func(w http.ResponseWriter, r *http.Request) {
		d.rolloutAction(w, r, r.PathValue("rollout"), rollout.Action(r.PathValue("action")))
	}))
	mux.HandleFunc("GET /api/v1/rollouts", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, d.rolloutStatuses())
	})
	for _, rc := range receivers {
		mux.HandleFunc("POST /hooks/"+rc.name, d.hookHandler(rc))
	}
	mux.HandleFunc("GET /{$}", d.servePage)
	return mux
}

// authorized requires the API token on a request that changes something.
// Without a configured token the API is read-only: anyone who can reach the
// port (or a page a browser visits, with a cross-site form) could otherwise
// suspend reconciliation.
func (d *Daemon) authorized(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if d.opts.APIToken == "" {
			http.Error(w, "forbidden: this API is read-only until digitops serve has an API token (--api-token-file or DIGITOPS_API_TOKEN; the Helm chart creates one in the Secret <release>-api-token)", http.StatusForbidden)
			return
		}
		if subtle.ConstantTimeCompare([]byte(bearerToken(r)), []byte(d.opts.APIToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="digitops"`)
			http.Error(w, "unauthorized: send the API token as Authorization: Bearer <token>", http.StatusUnauthorized)
			return
		}
		h(w, r)
	}
}

// bearerToken is the token of an "Authorization: Bearer <token>" header,
// "" for any other header (a bare token, another scheme). The scheme is
// case-insensitive (RFC 7235).
func bearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// setSuspended suspends or resumes an environment or a release and wakes
// the environment's loop so the status shows it at once.
func (d *Daemon) setSuspended(w http.ResponseWriter, env, release string, on bool) {
	l, ok := d.environment(env)
	if !ok {
		http.Error(w, "no environment "+env, http.StatusNotFound)
		return
	}
	// Only releases the environment has, so that the state stays bounded
	// (resume of an unknown one is allowed: it clears it).
	if release != "" && on && !releaseKnown(w, l, release) {
		return
	}
	if err := d.suspends.set(env, release, on); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	verb := "resumed"
	if on {
		verb = "suspended"
	}
	d.log.Info(verb, "environment", env, "release", release)
	wake(l.wake)
	writeJSON(w, http.StatusOK, l.snapshot())
}

// releaseKnown reports whether the last plan of l had release; when not,
// it answers 409 (never planned) or 404.
func releaseKnown(w http.ResponseWriter, l *envLoop, release string) bool {
	known, planned := l.hasRelease(release)
	switch {
	case !planned:
		http.Error(w, "environment "+l.name+" has not been planned yet: its releases are unknown; try again after its first sync", http.StatusConflict)
	case !known:
		http.Error(w, "environment "+l.name+" has no release "+release, http.StatusNotFound)
	}
	return known && planned
}

// retry makes the next sync of env try its failed releases (or release)
// at once, and wakes it.
func (d *Daemon) retry(w http.ResponseWriter, env, release string) {
	l, ok := d.environment(env)
	if !ok {
		http.Error(w, "no environment "+env, http.StatusNotFound)
		return
	}
	if release != "" && !releaseKnown(w, l, release) {
		return
	}
	hadFailed := l.retry(release)
	l.src.stale() // try again with what the remote has now
	d.log.Info("retry asked", "environment", env, "release", release, "hadFailed", hadFailed)
	wake(l.wake)
	writeJSON(w, http.StatusOK, l.snapshot())
}

// rolloutAction applies an operator's action to a rollout.
func (d *Daemon) rolloutAction(w http.ResponseWriter, r *http.Request, name string, a rollout.Action) {
	rs, err := d.actOnRollout(r.Context(), name, a)
	switch {
	case errors.Is(err, errUnknownRollout):
		http.Error(w, "no rollout "+name, http.StatusNotFound)
	case err != nil:
		http.Error(w, err.Error(), http.StatusConflict)
	default:
		d.log.Info("rollout action", "rollout", name, "action", string(a))
		writeJSON(w, http.StatusOK, rs)
	}
}

// Status returns the state of every environment.
func (d *Daemon) Status() statusapi.Status {
	st := statusapi.Status{Leader: d.leading.Load(), Ready: d.ready.Load(), Sources: []statusapi.Source{}, Environments: []statusapi.Environment{}}
	for _, s := range d.sources {
		s.mu.Lock()
		st.Sources = append(st.Sources, statusapi.Source{URL: s.url, Ref: s.opts.Ref, Revision: s.snap.Revision, Environments: append([]string{}, s.names...), Error: s.err})
		s.mu.Unlock()
	}
	for _, l := range d.loops() {
		st.Environments = append(st.Environments, l.snapshot())
	}
	st.Rollouts = d.rolloutStatuses()
	return st
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
