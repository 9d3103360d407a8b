package reconciler_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/source/manifest"
)

// TestPlan_nondeterminismNotes: an upgrade plan renders the release twice,
// in two seconds, and names the field that differs (driftRepo's common chart
// stamps deployment-timestamp with `now`, as DIGIT's does); an install plan
// renders once and leaves the comparison to the Applier; a deterministic
// chart gets no note. Offline: no cluster.
func TestPlan_nondeterminismNotes(t *testing.T) {
	env := driftEnv(t, context.Background(), driftRepo(t), manifest.DriftCorrect)
	// Live releases with no digests: every release is an upgrade.
	live := ownedLive(env.Name, quickstartNames...)
	planner := &reconciler.Planner{Charts: reconciler.LocalCharts{}}
	plan, err := planner.Plan(context.Background(), env, live, reconciler.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := plan.Summary(); s.Upgrade != len(quickstartNames) {
		t.Fatalf("plan = %+v, want %d upgrades", s, len(quickstartNames))
	}
	assertTimestampNotes(t, strings.Join(plan.Notes, "\n"))
	// The step's diff is the plan's first render, not a third one: the
	// timestamp it shows is the one the plan saw first, which a new render
	// (a second or more later) would not show.
	for i := range plan.Steps {
		st := &plan.Steps[i]
		if st.Release.Name == "egov-config" {
			continue
		}
		a, errA := reconciler.RenderStep(context.Background(), nil, st)
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		b, errB := reconciler.RenderStep(context.Background(), nil, st)
		if errA != nil || errB != nil || a.New == "" || a.New != b.New {
			t.Errorf("%s: RenderStep renders again (%v, %v)", st.Release.Name, errA, errB)
		}
	}

	install, err := planner.Plan(context.Background(), env, reconciler.LiveState{}, reconciler.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Join(install.Notes, "\n"); strings.Contains(n, "renders differently") {
		t.Errorf("an install plan renders once, yet notes:\n%s", n)
	}
	// `digitops plan` asks for installs to be checked too.
	planner.CheckInstalls = true
	install, err = planner.Plan(context.Background(), env, reconciler.LiveState{}, reconciler.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	assertTimestampNotes(t, strings.Join(install.Notes, "\n"))
}

// assertTimestampNotes checks that notes name, once each, the stamped
// deployment-timestamp of driftRepo's three services, and nothing of the
// deterministic egov-config.
func assertTimestampNotes(t *testing.T, notes string) {
	t.Helper()
	for _, name := range []string{"egov-mdms-service", "egov-user", "pgr-services"} {
		want := "release " + name + " renders differently on every run at Deployment/egov/" + name + " /spec/template/metadata/annotations/deployment-timestamp"
		if strings.Count(notes, "release "+name+" ") != 1 || !strings.Contains(notes, want) {
			t.Errorf("notes do not say once that %s is nondeterministic:\n%s", name, notes)
		}
	}
	if strings.Contains(notes, "release egov-config ") {
		t.Errorf("egov-config is deterministic, notes say otherwise:\n%s", notes)
	}
}
