package rollouts

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/digitops/digitops/daemon/web"
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/metrics"
	"github.com/digitops/digitops/notify"
	"github.com/digitops/digitops/rollout"
	"github.com/digitops/digitops/source/git"
	"github.com/digitops/digitops/source/manifest"
)

// fakeSource is a source that is never fetched.
type fakeSource struct{ url string }

func (s fakeSource) URL() string      { return s.url }
func (fakeSource) ConfigPath() string { return "" }
func (fakeSource) Head() git.Snapshot { return git.Snapshot{} }
func (fakeSource) At(context.Context, string) (git.Snapshot, error) {
	return git.Snapshot{}, nil
}

// noEnvironments runs no environment loop.
type noEnvironments struct{}

func (noEnvironments) Environment(string) (Environment, bool)             { return Environment{}, false }
func (noEnvironments) Wake(string)                                        {}
func (noEnvironments) Notify(string, notify.Kind, string, string, string) {}

// testManager is a Manager with no home cluster nor environments.
func testManager(t *testing.T) *Manager {
	t.Helper()
	return New(Options{
		Tick:         time.Second,
		Leading:      func() bool { return true },
		Environments: noEnvironments{},
		Metrics:      metrics.New(prometheus.NewRegistry()),
		Log:          slog.New(slog.DiscardHandler),
	})
}

// statusOnly is a web.Backend whose status holds the manager's rollouts
// (enough for the status page).
type statusOnly struct {
	web.Backend
	m *Manager
}

func (b statusOnly) Status(context.Context, bool) statusapi.Status {
	return statusapi.Status{Rollouts: b.m.Statuses()}
}

// TestGate_errorInStatus: a gate that cannot be checked (here Prometheus
// answers with a redirect, which is refused) holds the wave and says why
// in the status and on the page, not only in the logs; a check that runs
// clears it.
func TestGate_errorInStatus(t *testing.T) {
	fine := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1700000000,"0"]}}`))
	}))
	t.Cleanup(fine.Close)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, fine.URL+r.URL.Path, http.StatusFound)
	}))
	t.Cleanup(redirect.Close)

	m, s := testManager(t), fakeSource{url: "https://github.com/egov/envs.git"}
	gate := &manifest.PrometheusGate{URL: redirect.URL, Query: "sum(errors)", Max: 0}
	rc := manifest.RolloutConfig{Name: "egov", Waves: []manifest.WaveConfig{
		{Environments: []string{"dev"}, Soak: time.Minute, Prometheus: gate},
		{Environments: []string{"prod"}},
	}}
	waves, err := rollout.Waves(rc, []string{"dev", "prod"})
	if err != nil {
		t.Fatal(err)
	}
	sp := spec{source: s, config: rc, waves: waves}
	soaking := time.Now().Add(-2 * time.Minute)
	m.specs = map[string]spec{"egov": sp}
	m.states = map[string]rollout.State{"egov": {
		Revision: "main@sha1:" + strings.Repeat("a", 40), Commit: strings.Repeat("a", 40),
		Promoted: map[string]string{"prod": strings.Repeat("b", 40)}, SoakSince: &soaking,
	}}

	failure, unknown := m.checkGate(context.Background(), sp, 0)
	if failure != "" || !unknown {
		t.Fatalf("a redirected gate: failure %q, unknown %v; want unknown", failure, unknown)
	}
	st := m.Statuses()
	if len(st) != 1 || !strings.Contains(st[0].GateError, "wave 1 gate cannot be checked") || !strings.Contains(st[0].GateError, "redirect refused") {
		t.Fatalf("status of the rollout: %+v, want its gate error", st)
	}
	if !strings.Contains(st[0].Summary, "waiting for its gate") {
		t.Errorf("summary %q does not say the wave waits for its gate", st[0].Summary)
	}
	rec := httptest.NewRecorder()
	web.NewHandler(statusOnly{m: m}, web.Options{Registry: prometheus.NewRegistry(), Log: slog.New(slog.DiscardHandler)}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if !strings.Contains(rec.Body.String(), `<div class="error gate-error">wave 1 gate cannot be checked`) {
		t.Errorf("the page does not show the gate error:\n%s", rec.Body.String())
	}

	gate.URL = fine.URL
	if failure, unknown := m.checkGate(context.Background(), sp, 0); failure != "" || unknown {
		t.Fatalf("a healthy gate: failure %q, unknown %v", failure, unknown)
	}
	if st := m.Statuses(); st[0].GateError != "" {
		t.Errorf("the gate error stayed after a check that ran: %q", st[0].GateError)
	}
}
