package reconciler_test

import (
	"context"
	"testing"
	"time"
)

// TestApply_noOpSyncWritesNothing: when neither Git nor the cluster changed,
// a sync of the quickstart writes nothing and, on a syncer kept between
// syncs as the daemon keeps it (drift watches warm), reads the release list
// once and nothing else, even with the readiness gate on.
func TestApply_noOpSyncWritesNothing(t *testing.T) {
	_, cluster := startCluster(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	repo := t.TempDir()
	copyTree(t, "../examples/quickstart", repo)
	syncer := newSyncer(t, cluster)
	_, res := syncRun{Repo: repo, Policy: noWait, Syncer: syncer}.mustRun(t, ctx, cluster)
	if res.Err() != nil {
		t.Fatalf("install: %v", res.Err())
	}
	if res.APIRequests.Writes() == 0 {
		t.Errorf("the install sync counted no writes (%v): the counter does not see Helm's requests", res.APIRequests)
	}

	// The first no-op sync checks drift: it starts the watches and reads
	// the deployed manifests, and writes nothing.
	before := cluster.Requests()
	plan, res := syncRun{Repo: repo, Syncer: syncer}.mustRun(t, ctx, cluster)
	first := cluster.Requests().Since(before)
	if s := plan.Summary(); s.Writes() != 0 || res != nil {
		t.Fatalf("no-op plan = %+v, applied %v; want nothing to write or apply", s, res)
	}
	t.Logf("first no-op sync: %v, drift detection %d", first, plan.APIRequests)
	if first.Writes() != 0 {
		t.Errorf("the first no-op sync made write requests: %v", first)
	}

	// The next one finds everything in the watch cache.
	before = cluster.Requests()
	plan, res = syncRun{Repo: repo, Syncer: syncer}.mustRun(t, ctx, cluster)
	sync := cluster.Requests().Since(before)
	if s := plan.Summary(); s.Writes() != 0 || res != nil {
		t.Fatalf("no-op plan = %+v, applied %v; want nothing to write or apply", s, res)
	}
	t.Logf("warm no-op sync: %v, drift detection %d", sync, plan.APIRequests)
	if sync.Writes() != 0 {
		t.Errorf("no-op sync made write requests: %v", sync)
	}
	if sync.Total() != 1 || plan.APIRequests != 0 {
		t.Errorf("no-op sync made %d requests (%v) and drift detection %d, want 1 (the list of releases) and none", sync.Total(), sync, plan.APIRequests)
	}
}
