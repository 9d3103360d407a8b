package daemon

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/digitops/digitops/rollout"
	"github.com/digitops/digitops/source/manifest"
)

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

	d, s := hookDaemon(t, WebhookSecrets{})
	gate := &manifest.PrometheusGate{URL: redirect.URL, Query: "sum(errors)", Max: 0}
	rc := manifest.RolloutConfig{Name: "egov", Waves: []manifest.WaveConfig{
		{Environments: []string{"dev"}, Soak: time.Minute, Prometheus: gate},
		{Environments: []string{"prod"}},
	}}
	waves, err := rollout.Waves(rc, []string{"dev", "prod"})
	if err != nil {
		t.Fatal(err)
	}
	sp := rolloutSpec{source: s, config: rc, waves: waves}
	soaking := time.Now().Add(-2 * time.Minute)
	d.rollouts.specs = map[string]rolloutSpec{"egov": sp}
	d.rollouts.states = map[string]rollout.State{"egov": {
		Revision: "main@sha1:" + strings.Repeat("a", 40), Commit: strings.Repeat("a", 40),
		Promoted: map[string]string{"prod": strings.Repeat("b", 40)}, SoakSince: &soaking,
	}}

	failure, unknown := d.checkGate(context.Background(), sp, 0)
	if failure != "" || !unknown {
		t.Fatalf("a redirected gate: failure %q, unknown %v; want unknown", failure, unknown)
	}
	st := d.rolloutStatuses()
	if len(st) != 1 || !strings.Contains(st[0].GateError, "wave 1 gate cannot be checked") || !strings.Contains(st[0].GateError, "redirect refused") {
		t.Fatalf("status of the rollout: %+v, want its gate error", st)
	}
	if !strings.Contains(st[0].Summary, "waiting for its gate") {
		t.Errorf("summary %q does not say the wave waits for its gate", st[0].Summary)
	}
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if !strings.Contains(rec.Body.String(), `<div class="error gate-error">wave 1 gate cannot be checked`) {
		t.Errorf("the page does not show the gate error:\n%s", rec.Body.String())
	}

	gate.URL = fine.URL
	if failure, unknown := d.checkGate(context.Background(), sp, 0); failure != "" || unknown {
		t.Fatalf("a healthy gate: failure %q, unknown %v", failure, unknown)
	}
	if st := d.rolloutStatuses(); st[0].GateError != "" {
		t.Errorf("the gate error stayed after a check that ran: %q", st[0].GateError)
	}
}
