package web

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/digitops/digitops/daemon/history"
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/rollout"
)

// Backend is what the handlers need of the daemon.
type Backend interface {
	// Status is the state of every source, environment and rollout; with
	// local, only of the environments this replica owns (serve --shard:
	// what other replicas ask each other for).
	Status(ctx context.Context, local bool) statusapi.Status
	// Ready reports whether an environment has been loaded and planned
	// since start (/readyz).
	Ready() bool
	// Rollouts is every rollout's status, sorted by name.
	Rollouts() []statusapi.Rollout
	// SetSuspended suspends (or resumes) an environment, or one release
	// of it when release is not empty, wakes its loop and returns its
	// status. Errors: NotFound, Conflict (never planned), others (the
	// suspension could not be saved).
	SetSuspended(ctx context.Context, env, release string, suspended bool) (statusapi.Environment, error)
	// Retry makes the next sync of env try its failed releases (or
	// release) at once, wakes it and returns its status. Errors: NotFound,
	// Conflict (never planned).
	Retry(ctx context.Context, env, release string) (statusapi.Environment, error)
	// ActOnRollout applies an operator's action to a rollout and returns
	// its status. Errors: NotFound (no such rollout), others (refused).
	ActOnRollout(ctx context.Context, name string, a rollout.Action) (statusapi.Rollout, error)
	// Pushed asks for a fetch and sync of every source p moved; it returns
	// how many sources matched and their environments.
	Pushed(p Push) (sources int, environments []string)
	// Route says where the actions on env are carried out: here (local),
	// or at the replica whose URL it returns (serve --shard); "" and
	// false while no replica owns it (a hand-over).
	Route(env string) (url string, local bool)
	// RouteRollouts is Route for the rollouts' actions.
	RouteRollouts() (url string, local bool)
	// Peers are the URLs of the other live replicas (serve --shard), to
	// which a verified webhook push is relayed; none without sharding.
	Peers() []string
	// History is env's sync history, newest first; with release, only the
	// syncs that acted on it, each with that release alone. Errors:
	// NotFound (no such environment).
	History(ctx context.Context, env, release string) (history.Document, error)
	// EnvironmentDetail is env's status and its pending changes. Errors:
	// NotFound.
	EnvironmentDetail(ctx context.Context, env string) (statusapi.EnvironmentDetail, error)
	// ReleaseDetail is one release's status, chart, images, order,
	// Helm revisions and takeovers. Errors: NotFound.
	ReleaseDetail(ctx context.Context, env, release string) (statusapi.ReleaseDetail, error)
	// SyncNow makes env's loop plan in full and sync now (release, when
	// set, only names what the operator asked for: the environment
	// syncs). Errors: NotFound.
	SyncNow(ctx context.Context, env, release string) (statusapi.Environment, error)
	// Rollback rolls release back to Helm revision to and suspends it
	// until resumed (the next sync would undo it). Errors: NotFound (no
	// such release or revision), Conflict (an action is in flight).
	Rollback(ctx context.Context, env, release string, to int) (statusapi.ReleaseDetail, error)
}

// ErrNotFound and ErrConflict classify a Backend's errors (errors.Is): the
// handlers answer 404 and 409 with the error's message.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// NotFound is an error saying msg, classified as ErrNotFound.
func NotFound(msg string) error { return classified{msg: msg, class: ErrNotFound} }

// Conflict is an error saying msg, classified as ErrConflict.
func Conflict(msg string) error { return classified{msg: msg, class: ErrConflict} }

type classified struct {
	msg   string
	class error
}

func (e classified) Error() string { return e.msg }
func (e classified) Unwrap() error { return e.class }

// Options configure the handler.
type Options struct {
	// Registry is served on /metrics.
	Registry *prometheus.Registry
	// APIToken, when set, is required as "Authorization: Bearer" on the
	// requests that change something; without it they are refused.
	APIToken string
	// Webhooks are the receivers' secrets.
	Webhooks WebhookSecrets
	// Log receives the logs.
	Log *slog.Logger
}

// handler serves the API, the console and the webhook receivers.
type handler struct {
	backend Backend
	opts    Options
	// deliveries remembers recent webhook delivery ids and pushes, so that
	// a replayed signed delivery triggers nothing.
	deliveries *deliveries
	// relayClient relays webhook pushes to the other replicas (no
	// redirects followed).
	relayClient *http.Client
	// mux routes the requests.
	mux *http.ServeMux
	// events streams the status to the console (GET /api/v1/events),
	// heartbeat apart; now is the console's clock.
	events    *statusEvents
	heartbeat time.Duration
	now       func() time.Time
}

// NewHandler builds the HTTP API:
//
//	GET  /                      console: overview
//	GET  /environments/{env}[/releases/{release}]   console: environment, release
//	GET  /api/v1/events         the status as server-sent events
//	GET  /metrics               Prometheus metrics
//	GET  /healthz, /readyz      probes
//	GET  /api/v1/status         statusapi.Status as JSON
//	POST /api/v1/environments/{env}/suspend|resume
//	POST /api/v1/environments/{env}/releases/{release}/suspend|resume
//	POST /api/v1/environments/{env}/sync
//	POST /api/v1/environments/{env}/releases/{release}/sync
//	POST /api/v1/environments/{env}/retry
//	POST /api/v1/environments/{env}/releases/{release}/retry
//	GET  /api/v1/environments/{env}/history[?release=NAME]   history.Document as JSON
//	GET  /api/v1/environments/{env}                       statusapi.EnvironmentDetail
//	GET  /api/v1/environments/{env}/releases/{release}     statusapi.ReleaseDetail
//	POST /api/v1/environments/{env}/releases/{release}/rollback   {"revision": N}
//	GET  /api/v1/rollouts       []statusapi.Rollout as JSON
//	POST /api/v1/rollouts/{rollout}/promote|pause|resume|abort
//	POST /hooks/github|gitlab|generic
//
// [NewServer] ends its event streams when it shuts down.
func NewHandler(b Backend, opts Options) http.Handler {
	return newHandler(b, opts)
}

func newHandler(b Backend, opts Options) *handler {
	h := &handler{backend: b, opts: opts, deliveries: newDeliveries(deliveryWindow, maxDeliveries),
		relayClient: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		events:      newStatusEvents(func(ctx context.Context) statusapi.Status { return b.Status(ctx, false) }, eventsPoll, maxEventClients),
		heartbeat:   eventsHeartbeat, now: time.Now}
	mux := http.NewServeMux()
	h.mux = mux
	mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{Registry: opts.Registry}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !b.Ready() {
			http.Error(w, "no environment loaded yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.Status(r.Context(), r.URL.Query().Get("scope") == "local"))
	})
	for _, verb := range []string{"suspend", "resume"} {
		on := verb == "suspend"
		mux.HandleFunc("POST /api/v1/environments/{env}/"+verb, h.authorized(h.routed(func(w http.ResponseWriter, r *http.Request) {
			h.setSuspended(w, r, r.PathValue("env"), "", on)
		})))
		mux.HandleFunc("POST /api/v1/environments/{env}/releases/{release}/"+verb, h.authorized(h.routed(func(w http.ResponseWriter, r *http.Request) {
			h.setSuspended(w, r, r.PathValue("env"), r.PathValue("release"), on)
		})))
	}
	mux.HandleFunc("POST /api/v1/environments/{env}/sync", h.authorized(h.routed(func(w http.ResponseWriter, r *http.Request) {
		h.syncNow(w, r, r.PathValue("env"), "")
	})))
	mux.HandleFunc("POST /api/v1/environments/{env}/releases/{release}/sync", h.authorized(h.routed(func(w http.ResponseWriter, r *http.Request) {
		h.syncNow(w, r, r.PathValue("env"), r.PathValue("release"))
	})))
	mux.HandleFunc("POST /api/v1/environments/{env}/retry", h.authorized(h.routed(func(w http.ResponseWriter, r *http.Request) {
		h.retry(w, r, r.PathValue("env"), "")
	})))
	mux.HandleFunc("POST /api/v1/environments/{env}/releases/{release}/retry", h.authorized(h.routed(func(w http.ResponseWriter, r *http.Request) {
		h.retry(w, r, r.PathValue("env"), r.PathValue("release"))
	})))
	mux.HandleFunc("POST /api/v1/rollouts/{rollout}/{action}", h.authorized(h.routed(func(w http.ResponseWriter, r *http.Request) {
		h.rolloutAction(w, r, r.PathValue("rollout"), rollout.Action(r.PathValue("action")))
	})))
	mux.HandleFunc("GET /api/v1/environments/{env}/history", h.routed(func(w http.ResponseWriter, r *http.Request) {
		doc, err := b.History(r.Context(), r.PathValue("env"), r.URL.Query().Get("release"))
		if err != nil {
			http.Error(w, err.Error(), errorStatus(err, http.StatusInternalServerError))
			return
		}
		writeJSON(w, http.StatusOK, doc)
	}))
	mux.HandleFunc("GET /api/v1/environments/{env}", h.routed(func(w http.ResponseWriter, r *http.Request) {
		detail, err := b.EnvironmentDetail(r.Context(), r.PathValue("env"))
		answer(w, detail, err, http.StatusInternalServerError)
	}))
	mux.HandleFunc("GET /api/v1/environments/{env}/releases/{release}", h.routed(func(w http.ResponseWriter, r *http.Request) {
		detail, err := b.ReleaseDetail(r.Context(), r.PathValue("env"), r.PathValue("release"))
		answer(w, detail, err, http.StatusInternalServerError)
	}))
	mux.HandleFunc("POST /api/v1/environments/{env}/releases/{release}/rollback", h.authorized(writeWithin(rollbackWriteTimeout, h.routed(h.rollback))))
	mux.HandleFunc("GET /api/v1/rollouts", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, b.Rollouts())
	})
	mux.HandleFunc("GET /api/v1/events", h.serveEvents)
	for _, rc := range receivers {
		mux.HandleFunc("POST /hooks/"+rc.name, h.hookHandler(rc))
	}
	h.consoleRoutes(mux)
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// closeStreams ends the event streams: the server shuts down.
func (h *handler) closeStreams() { h.events.close() }

// authorized requires the API token on a request that changes something.
// Without a configured token the API is read-only: anyone who can reach the
// port (or a page a browser visits, with a cross-site form) could otherwise
// suspend reconciliation.
func (h *handler) authorized(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.opts.APIToken == "" {
			http.Error(w, "forbidden: this API is read-only until digitops serve has an API token (--api-token-file or DIGITOPS_API_TOKEN; the Helm chart creates one in the Secret <release>-api-token)", http.StatusForbidden)
			return
		}
		if subtle.ConstantTimeCompare([]byte(bearerToken(r)), []byte(h.opts.APIToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="digitops"`)
			http.Error(w, "unauthorized: send the API token as Authorization: Bearer <token>", http.StatusUnauthorized)
			return
		}
		next(w, r)
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

// setSuspended suspends or resumes an environment or a release.
func (h *handler) setSuspended(w http.ResponseWriter, r *http.Request, env, release string, on bool) {
	st, err := h.backend.SetSuspended(r.Context(), env, release, on)
	if err != nil {
		http.Error(w, err.Error(), errorStatus(err, http.StatusInternalServerError))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// retry makes the next sync of env try its failed releases (or release)
// at once.
func (h *handler) retry(w http.ResponseWriter, r *http.Request, env, release string) {
	st, err := h.backend.Retry(r.Context(), env, release)
	if err != nil {
		http.Error(w, err.Error(), errorStatus(err, http.StatusInternalServerError))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// syncNow makes env sync now, planning in full.
func (h *handler) syncNow(w http.ResponseWriter, r *http.Request, env, release string) {
	st, err := h.backend.SyncNow(r.Context(), env, release)
	answer(w, st, err, http.StatusInternalServerError)
}

// maxRollbackBody bounds the body of a rollback request;
// rollbackWriteTimeout the time its answer may take (Helm's rollback runs
// its hooks, up to the policy's timeout), instead of the server's Write.
const (
	maxRollbackBody      = 4 << 10
	rollbackWriteTimeout = 15 * time.Minute
)

// writeWithin lets next answer within d (an authorized request that
// waits for Helm) rather than within the server's write timeout.
func writeWithin(d time.Duration, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
		next(w, r)
	}
}

// RollbackRequest is the body of POST
// /api/v1/environments/{env}/releases/{release}/rollback.
type RollbackRequest struct {
	// Revision is the Helm revision to roll back to.
	Revision int `json:"revision"`
}

// rollback rolls a release back to the revision the body names.
func (h *handler) rollback(w http.ResponseWriter, r *http.Request) {
	var req RollbackRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRollbackBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil {
		// One object, nothing after it (a read past the limit is 413).
		if extra := dec.Decode(new(json.RawMessage)); extra == nil {
			err = errors.New("one JSON object expected, more follows")
		} else if extra != io.EOF {
			err = extra
		}
	}
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("request body over %d bytes", maxRollbackBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, `bad request: send {"revision": N}: `+err.Error(), http.StatusBadRequest)
		return
	}
	if req.Revision < 1 {
		http.Error(w, `bad request: send {"revision": N}, a Helm revision from 1`, http.StatusBadRequest)
		return
	}
	env, release := r.PathValue("env"), r.PathValue("release")
	detail, err := h.backend.Rollback(r.Context(), env, release, req.Revision)
	if err != nil {
		h.opts.Log.Warn("rollback refused or failed", "environment", env, "release", release, "revision", req.Revision, "error", err)
	}
	answer(w, detail, err, http.StatusInternalServerError)
}

// answer writes v as JSON, or err with the status its class says
// (otherwise when unclassified).
func answer(w http.ResponseWriter, v any, err error, otherwise int) {
	if err != nil {
		http.Error(w, err.Error(), errorStatus(err, otherwise))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// rolloutAction applies an operator's action to a rollout; a refusal is
// a conflict.
func (h *handler) rolloutAction(w http.ResponseWriter, r *http.Request, name string, a rollout.Action) {
	rs, err := h.backend.ActOnRollout(r.Context(), name, a)
	if err != nil {
		http.Error(w, err.Error(), errorStatus(err, http.StatusConflict))
		return
	}
	h.opts.Log.Info("rollout action", "rollout", name, "action", string(a))
	writeJSON(w, http.StatusOK, rs)
}

// errorStatus is the status code of a Backend's error: 404 or 409 when
// classified, otherwise.
func errorStatus(err error, otherwise int) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	}
	return otherwise
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
