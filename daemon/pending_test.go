package daemon

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// TestPendingSteps: the changes a plan found that its sync did not carry
// out.
func TestPendingSteps(t *testing.T) {
	step := func(name string, a reconciler.Action, s reconciler.Status) reconciler.Step {
		return reconciler.Step{Release: manifest.ReleaseSpec{Name: name, Namespace: "egov"}, Action: a, Status: s}
	}
	plan := &reconciler.Plan{Steps: []reconciler.Step{
		step("done", reconciler.ActionUpgrade, reconciler.StatusOutOfSync),
		step("failed", reconciler.ActionUpgrade, reconciler.StatusOutOfSync),
		step("skipped", reconciler.ActionInstall, reconciler.StatusAbsent),
		step("recorded", reconciler.ActionRecord, reconciler.StatusRenderUnchanged),
		step("in-sync", reconciler.ActionNone, reconciler.StatusInSync),
		step("suspended", reconciler.ActionSkip, reconciler.StatusSuspended),
		step("held-back", reconciler.ActionSkip, reconciler.StatusHeldBack),
		step("locked", reconciler.ActionSkip, reconciler.StatusLocked),
		step("blocked", reconciler.ActionBlocked, reconciler.StatusBlocked),
		step("in-error", reconciler.ActionError, reconciler.StatusInvalid),
	}}
	names := func(idx []int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, plan.Steps[i].Release.Name)
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		result *reconciler.Result // the apply's, nil when nothing acted
		want   []string           // the pending releases
	}{
		{"nothing acted (standby, suspended)", nil, []string{"done", "failed", "skipped", "recorded", "held-back", "blocked"}},
		{"applied", &reconciler.Result{Releases: []reconciler.ReleaseResult{
			{Name: "done", Namespace: "egov", Outcome: reconciler.OutcomeSucceeded},
			{Name: "failed", Namespace: "egov", Outcome: reconciler.OutcomeFailed},
			{Name: "skipped", Namespace: "egov", Outcome: reconciler.OutcomeSkipped},
			{Name: "recorded", Namespace: "egov", Outcome: reconciler.OutcomeSucceeded},
		}}, []string{"failed", "skipped", "held-back", "blocked"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(pendingSteps(plan, tc.result)); !slices.Equal(got, tc.want) {
				t.Errorf("pending = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestNewLastPlan: the order, takeovers and pending changes kept of a
// plan; a diff already computed for the same change is reused, not read
// again (the cluster here is nil: a read would say so in the diff).
func TestNewLastPlan(t *testing.T) {
	live := &kube.LiveRelease{Version: 2, LastDeployed: 2}
	plan := &reconciler.Plan{Steps: []reconciler.Step{
		{Release: manifest.ReleaseSpec{Name: "db", Namespace: "egov"}, Action: reconciler.ActionNone, Orphans: []reconciler.Orphan{{Object: "ConfigMap/egov/old", Adopted: true}}},
		{Release: manifest.ReleaseSpec{Name: "user", Namespace: "egov", Needs: []string{"db"}}, Action: reconciler.ActionUpgrade, Reason: "values changed", Live: live,
			Desired: reconciler.Desired{ChartDigest: "c", ValuesDigest: "v2"}, Inputs: []reconciler.Input{{File: "env.yaml", Key: "user.replicas", Old: "1", New: "2"}}},
		{Release: manifest.ReleaseSpec{Name: "pgr", Namespace: "egov", Needs: []string{"db", "user"}}, Action: reconciler.ActionInstall, Reason: "not installed",
			Adopt: []reconciler.Adoption{{Object: "Service/egov/pgr", Owner: "kubectl"}}},
	}}
	prev := &lastPlan{diffs: map[diffKey]string{keyOf(&plan.Steps[1]): "~ Deployment/egov/user (changed)\n"}}
	lp := newLastPlan(context.Background(), nil, plan, nil, prev)
	if db := lp.releases["db"]; !slices.Equal(db.dependants, []string{"user", "pgr"}) || len(db.orphans) != 1 || !strings.HasPrefix(db.orphans[0], "ConfigMap/egov/old") {
		t.Errorf("db = %+v", db)
	}
	if pgr := lp.releases["pgr"]; !slices.Equal(pgr.needs, []string{"db", "user"}) || len(pgr.adopted) != 1 || pgr.adopted[0] != "Service/egov/pgr (kubectl)" {
		t.Errorf("pgr = %+v", pgr)
	}
	if len(lp.pending) != 2 {
		t.Fatalf("pending = %+v, want user and pgr", lp.pending)
	}
	user := lp.pending[0]
	if user.Release != "user" || user.Action != "upgrade" || user.Reason != "values changed" || user.Diff != "~ Deployment/egov/user (changed)\n" ||
		!slices.Equal(user.Inputs, []string{"env.yaml: user.replicas 1 → 2"}) {
		t.Errorf("user = %+v", user)
	}
	if lp.diffs[keyOf(&plan.Steps[1])] == "" {
		t.Error("the reused diff is not kept for the next plan")
	}
}

// TestCutDiff: a long diff is cut at a line, saying how much is left out.
func TestCutDiff(t *testing.T) {
	d := strings.Repeat("+ line of a diff\n", 10)
	got := cutDiff(d, 40)
	if !strings.HasPrefix(got, "+ line of a diff\n+ line of a diff\n… (diff cut") || !strings.Contains(got, "136 more bytes") {
		t.Errorf("cutDiff = %q", got)
	}
}
