package reconciler_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/releaseutil"

	"github.com/digitops/digitops/internal/testenv"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/loader"
)

// repoWith copies the quickstart into a temporary repository and replaces its
// digitops.yaml by config.
func repoWith(t *testing.T, config string) string {
	t.Helper()
	repo := t.TempDir()
	copyTree(t, "../examples/quickstart", repo)
	writeConfig(t, repo, config)
	return repo
}

func writeConfig(t *testing.T, repo, config string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(repo, "digitops.yaml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startCluster starts a control plane for the test and a Cluster on it.
func startCluster(t *testing.T, extras bool) (*testenv.Env, *kube.Cluster) {
	t.Helper()
	env := testenv.ForTest(t, testenv.Options{Extras: extras})
	cluster, err := kube.NewCluster(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return env, cluster
}

// syncRun is one sync the way the CLI and the daemon run it: load, then
// reconciler.Syncer.Sync with Apply on, a planner from NewPlanner on the
// cluster (drift, takeovers, orphans and the comparison with the deployed
// manifests all on). It stops at the first error, so a load or plan error
// never reaches the cluster.
type syncRun struct {
	// Repo is the repository checkout.
	Repo string
	// Policy, when set, adjusts the loaded policy.
	Policy func(p *manifest.SyncPolicy)
	// Adjust, when set, changes the loaded environment.
	Adjust func(env *manifest.Environment)
	// ForcePrune lifts the prune guard.
	ForcePrune bool
	// Progress receives step events.
	Progress reconciler.Progress
	// Log receives the applier's log; nil discards it.
	Log *slog.Logger
	// Syncer, when set, runs the sync and keeps its planner's drift
	// watches between syncs, as the daemon does; nil makes one for the
	// sync, as the CLI does, and stops its watches once planned.
	Syncer *reconciler.Syncer
}

// newSyncer is a Syncer on cluster as the daemon keeps one per cluster,
// closed when the test ends. The tests' charts are local: a remote one is
// refused (no chart cache).
func newSyncer(t *testing.T, cluster *kube.Cluster) *reconciler.Syncer {
	t.Helper()
	planner, err := reconciler.NewPlanner(cluster, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(planner.Drift.Close)
	return &reconciler.Syncer{Planner: planner, Cluster: cluster}
}

// run syncs; the result is nil when nothing acted (the plan writes
// nothing), as Syncer.Sync returns it.
func (s syncRun) run(ctx context.Context, cluster *kube.Cluster) (*reconciler.Plan, *reconciler.Result, error) {
	env, err := loader.Environment(ctx, loader.Options{RepoDir: s.Repo}, "dev")
	if err != nil {
		return nil, nil, err
	}
	if s.Policy != nil {
		s.Policy(&env.Policy)
	}
	if s.Adjust != nil {
		s.Adjust(env)
	}
	syncer, oneShot := s.Syncer, s.Syncer == nil
	if oneShot {
		planner, err := reconciler.NewPlanner(cluster, "")
		if err != nil {
			return nil, nil, err
		}
		syncer = &reconciler.Syncer{Planner: planner, Cluster: cluster}
	}
	syncer.Log = s.Log
	if syncer.Log == nil {
		syncer.Log = slog.New(slog.DiscardHandler)
	}
	synced, err := syncer.Sync(ctx, env, reconciler.SyncOptions{
		PlanOptions:  reconciler.PlanOptions{ForcePrune: s.ForcePrune},
		Apply:        true,
		StopWatching: oneShot,
		Progress:     s.Progress,
	})
	if err != nil {
		return nil, nil, err
	}
	return synced.Plan, synced.Result, nil
}

// mustRun runs the sync and fails the test on a load or plan error (not on
// failed releases: the caller looks at the result, nil when nothing acted).
func (s syncRun) mustRun(t *testing.T, ctx context.Context, cluster *kube.Cluster) (*reconciler.Plan, *reconciler.Result) {
	t.Helper()
	plan, res, err := s.run(ctx, cluster)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return plan, res
}

// noWait is a policy for control planes without controllers: nothing
// becomes ready, so the readiness gate is off.
func noWait(p *manifest.SyncPolicy) { p.Wait = false }

// resultOf returns the result of the named release.
func resultOf(t *testing.T, res *reconciler.Result, name string) reconciler.ReleaseResult {
	t.Helper()
	for _, r := range res.Releases {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no result for release %s", name)
	return reconciler.ReleaseResult{}
}

// progressLog records step events with their time.
type progressLog struct {
	mu       sync.Mutex
	started  map[string]time.Time
	finished map[string]time.Time
	// onStart, if set, runs in Started (synchronously, before the release acts).
	onStart func(step *reconciler.Step)
}

var _ reconciler.Progress = (*progressLog)(nil)

func newProgressLog() *progressLog {
	return &progressLog{started: map[string]time.Time{}, finished: map[string]time.Time{}}
}

func (p *progressLog) Started(step *reconciler.Step) {
	p.mu.Lock()
	p.started[step.Release.Name] = time.Now()
	p.mu.Unlock()
	if p.onStart != nil {
		p.onStart(step)
	}
}

func (p *progressLog) Finished(res reconciler.ReleaseResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finished[res.Name] = time.Now()
}

// helmStatuses reads a release's history through Helm's own storage, oldest
// first; an empty list when the release does not exist.
func helmStatuses(t *testing.T, cluster *kube.Cluster, namespace, name string) []string {
	t.Helper()
	rels, err := action.NewHistory(reconciler.ActionConfigForTest(cluster, namespace)).Run(name)
	if err != nil {
		return nil
	}
	releaseutil.SortByRevision(rels)
	out := make([]string, len(rels))
	for i, r := range rels {
		out[i] = r.Info.Status.String()
	}
	return out
}
