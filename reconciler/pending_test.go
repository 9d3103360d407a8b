package reconciler_test

import (
	"context"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// writePending writes revision version of a release as Helm would have left
// it when killed in the middle of an upgrade: a copy of revision from with
// status pending-upgrade, modified at modified (zero: now). It goes through
// Helm's Secrets storage driver directly, as the killed process did.
func writePending(t *testing.T, cluster *kube.Cluster, namespace, name string, from, version int, modified time.Time) {
	t.Helper()
	d := driver.NewSecrets(cluster.Clientset.CoreV1().Secrets(namespace))
	key := "sh.helm.release.v1." + name + ".v" + strconv.Itoa(version)
	prev, err := d.Get("sh.helm.release.v1." + name + ".v" + strconv.Itoa(from))
	if err != nil {
		t.Fatalf("read revision %d of %s: %v", from, name, err)
	}
	rel := *prev
	info := *prev.Info
	rel.Info = &info
	rel.Version = version
	rel.SetStatus(release.StatusPendingUpgrade, "Preparing upgrade")
	rel.Labels = maps.Clone(prev.Labels)
	if !modified.IsZero() {
		// The driver only sets modifiedAt on Update; on Create it keeps the
		// one given.
		rel.Labels["modifiedAt"] = strconv.FormatInt(modified.Unix(), 10)
	}
	_, _ = d.Delete(key)
	if err := d.Create(key, &rel); err != nil {
		t.Fatalf("write pending revision: %v", err)
	}
}

// TestApply_pendingUpgradeRecovered: a release left pending-upgrade by a
// killed process is left alone while the operation could still be running,
// and unlocked and upgraded by the first sync after the timeout.
func TestApply_pendingUpgradeRecovered(t *testing.T) {
	_, cluster := startCluster(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	repo := t.TempDir()
	copyTree(t, "../examples/quickstart", repo)
	run := syncRun{Repo: repo, Policy: noWait}
	if _, res := run.mustRun(t, ctx, cluster); res.Err() != nil {
		t.Fatalf("install: %v", res.Err())
	}

	// 1. Pending for seconds (the quickstart's timeout is 2m), with the
	// previous revision's modifiedAt ten minutes old, as Helm copies it
	// into a new revision: skipped, the age is the pending record's own.
	writePending(t, cluster, "egov", "egov-user", 1, 2, time.Now().Add(-10*time.Minute))
	plan, res := run.mustRun(t, ctx, cluster)
	if st := stepOf(t, plan, "egov-user"); st.Action != reconciler.ActionSkip || !strings.Contains(st.Reason, "another operation is in progress (pending-upgrade, revision 2)") {
		t.Errorf("young pending release planned %s (%s), want skip", st.Action, st.Reason)
	}
	if res != nil {
		t.Errorf("a plan whose only change is skipped acted: %+v", res.Releases)
	}
	if got := helmStatuses(t, cluster, "egov", "egov-user"); strings.Join(got, ",") != "deployed,pending-upgrade" {
		t.Errorf("history after skipping = %v", got)
	}

	// 2. Pending for longer than a 2-second timeout and its margin (5 s):
	// unlocked and upgraded.
	short := syncRun{Repo: repo, Policy: func(p *manifest.SyncPolicy) { noWait(p); p.Timeout = 2 * time.Second }}
	time.Sleep(8 * time.Second)
	plan, res = short.mustRun(t, ctx, cluster)
	if st := stepOf(t, plan, "egov-user"); st.Action != reconciler.ActionUnlock || !strings.Contains(st.Reason, "stuck in pending-upgrade") {
		t.Errorf("stale pending release planned %s (%s), want unlock", st.Action, st.Reason)
	}
	r := resultOf(t, res, "egov-user")
	if r.Outcome != reconciler.OutcomeSucceeded || r.RevisionBefore != 2 || r.RevisionAfter != 3 {
		t.Errorf("unlock: %+v, want succeeded 2 -> 3", r)
	}
	if got := helmStatuses(t, cluster, "egov", "egov-user"); strings.Join(got, ",") != "superseded,failed,deployed" {
		t.Errorf("history after recovery = %v, want [superseded failed deployed]", got)
	}

	// 3. Recovered: the next sync has nothing to do.
	plan, _ = run.mustRun(t, ctx, cluster)
	if s := plan.Summary(); s.Changes() != 0 {
		t.Errorf("plan after recovery = %+v, want no changes", s)
	}
}

// stepOf returns the plan's step for the named release.
func stepOf(t *testing.T, plan *reconciler.Plan, name string) reconciler.Step {
	t.Helper()
	for _, st := range plan.Steps {
		if st.Release.Name == name {
			return st
		}
	}
	t.Fatalf("no step for release %s", name)
	return reconciler.Step{}
}
