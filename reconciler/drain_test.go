package reconciler_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/loader"
)

// drainOnFirstStart closes drain when the first release starts acting.
type drainOnFirstStart struct {
	once  sync.Once
	drain chan struct{}
}

func (d *drainOnFirstStart) Started(*reconciler.Step)          { d.once.Do(func() { close(d.drain) }) }
func (d *drainOnFirstStart) Finished(reconciler.ReleaseResult) {}

// TestApply_drainLetsInFlightFinish: on shutdown the release already acting
// finishes and is deployed; releases not started are skipped, none is left
// pending.
func TestApply_drainLetsInFlightFinish(t *testing.T) {
	_, cluster := startCluster(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	repo := repoWith(t, `environments:
  - name: dev
    sync: {concurrency: 1, wait: false}
    releases:
      - {name: a, namespace: drain-a, chart: charts/services/egov-config}
      - {name: b, namespace: drain-b, chart: charts/services/egov-config}
      - {name: c, namespace: drain-c, chart: charts/services/egov-config}
`)
	env, err := loader.Environment(ctx, loader.Options{RepoDir: repo}, "dev")
	if err != nil {
		t.Fatal(err)
	}
	env.Policy.Drift = manifest.DriftOff
	live, err := kube.ReadLiveState(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := (&reconciler.Planner{Charts: reconciler.LocalCharts{}}).Plan(ctx, env, live, reconciler.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	progress := &drainOnFirstStart{drain: make(chan struct{})}
	res := (&reconciler.Applier{Cluster: cluster, Progress: progress, Drain: progress.drain}).Apply(ctx, env, plan)
	var succeeded, skipped int
	for _, r := range res.Releases {
		switch r.Outcome {
		case reconciler.OutcomeSucceeded:
			succeeded++
		case reconciler.OutcomeSkipped:
			skipped++
			if r.Error != "shutting down: not started" {
				t.Errorf("%s skipped with %q", r.Name, r.Error)
			}
		default:
			t.Errorf("%s: outcome %s (%s)", r.Name, r.Outcome, r.Error)
		}
	}
	if succeeded != 1 || skipped != 2 {
		t.Fatalf("succeeded %d, skipped %d; want 1 and 2", succeeded, skipped)
	}
	after, err := kube.ReadLiveState(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 1 {
		t.Fatalf("%d releases live after the drain, want 1", len(after))
	}
	for _, l := range after {
		if l.Status != "deployed" {
			t.Errorf("%s is %s, want deployed", l.Name, l.Status)
		}
	}
}
