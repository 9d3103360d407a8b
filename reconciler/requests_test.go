package reconciler_test

import (
	"context"
	"testing"
	"time"
)

// TestApply_noOpSyncWritesNothing: when neither Git nor the cluster changed,
// a sync of the quickstart reads the release list once and writes nothing,
// dry-run included, even with the readiness gate on.
func TestApply_noOpSyncWritesNothing(t *testing.T) {
	_, cluster := startCluster(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	repo := t.TempDir()
	copyTree(t, "../examples/quickstart", repo)
	_, res := syncRun{Repo: repo, Policy: noWait}.mustRun(t, ctx, cluster)
	if res.Err() != nil {
		t.Fatalf("install: %v", res.Err())
	}
	if res.APIRequests.Writes() == 0 {
		t.Errorf("the install sync counted no writes (%v): the counter does not see Helm's requests", res.APIRequests)
	}

	before := cluster.Requests()
	plan, res := syncRun{Repo: repo}.mustRun(t, ctx, cluster)
	sync := cluster.Requests().Since(before)
	if s := plan.Summary(); s.Changes() != 0 {
		t.Fatalf("no-op plan = %+v", s)
	}
	t.Logf("no-op sync: %v (apply: %v)", sync, res.APIRequests)
	if sync.Writes() != 0 {
		t.Errorf("no-op sync made write requests: %v", sync)
	}
	if sync.Total() != 1 {
		t.Errorf("no-op sync made %d requests (%v), want 1 (the list of releases)", sync.Total(), sync)
	}
	if res.APIRequests.Total() != 0 {
		t.Errorf("no-op apply made requests: %v", res.APIRequests)
	}
}
