package reconciler_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/digitops/digitops/internal/testenv"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// TestPlan_nondeterminismNotes: with RenderTwice (`digitops plan`) a plan
// renders every install and upgrade twice, in two seconds, and names the
// field that differs (driftRepo's common chart stamps deployment-timestamp
// with `now`, as DIGIT's does); without it, it renders once and leaves the
// comparison to the Applier; a deterministic chart gets no note. Offline: no
// cluster.
func TestPlan_nondeterminismNotes(t *testing.T) {
	ctx := context.Background()
	env := driftEnv(t, ctx, driftRepo(t), manifest.DriftCorrect)
	// Live releases with no digests: every release is an upgrade.
	upgrades := ownedLive(env.Name, quickstartNames...)
	for _, tc := range []struct {
		name string
		live kube.LiveState     // the cluster planned against
		want reconciler.Summary // what the plan does
	}{
		{name: "upgrades", live: upgrades, want: reconciler.Summary{Upgrade: len(quickstartNames)}},
		{name: "installs", live: kube.LiveState{}, want: reconciler.Summary{Install: len(quickstartNames)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each plan waits for the next second: wait side by side
			planner := &reconciler.Planner{Charts: reconciler.LocalCharts{}}
			once, err := planner.Plan(ctx, env, tc.live, reconciler.PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if s := once.Summary(); s != tc.want {
				t.Fatalf("plan = %+v, want %+v", s, tc.want)
			}
			if n := strings.Join(once.Notes, "\n"); strings.Contains(n, "renders differently") {
				t.Errorf("a plan that renders once can't know, yet notes:\n%s", n)
			}
			// The step's diff is the plan's render, not a new one: the
			// timestamp it shows is the one the plan saw, which a render a
			// second or more later would not show. (One wait for the next
			// second for all the steps.)
			var stamped []*reconciler.Step
			for i := range once.Steps {
				if once.Steps[i].Release.Name != "egov-config" {
					stamped = append(stamped, &once.Steps[i])
				}
			}
			first := make([]reconciler.Manifests, len(stamped))
			errs := make([]error, len(stamped))
			for i, st := range stamped {
				first[i], errs[i] = reconciler.RenderStep(ctx, nil, "", st)
			}
			time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
			for i, st := range stamped {
				again, err := reconciler.RenderStep(ctx, nil, "", st)
				if errs[i] != nil || err != nil || first[i].New == "" || first[i].New != again.New {
					t.Errorf("%s: RenderStep renders again (%v, %v)", st.Release.Name, errs[i], err)
				}
			}

			planner.RenderTwice = true
			twice, err := planner.Plan(ctx, env, tc.live, reconciler.PlanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			assertTimestampNotes(t, strings.Join(twice.Notes, "\n"))
		})
	}
}

// An upgrade, in a later second than the plan rendered in, deploys the
// plan's render: the timestamp the plan showed, no note of a difference
// (the plan's diff is what the cluster gets).
func TestApply_upgradeInstallsThePlannedRender(t *testing.T) {
	ctx, cluster, env := driftClusterEnv(t, manifest.DriftOff)
	planAndApply := func() (*reconciler.Plan, *reconciler.Result) {
		t.Helper()
		live, err := kube.ReadLiveState(ctx, cluster)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := (&reconciler.Planner{Charts: reconciler.LocalCharts{}, Cluster: cluster}).Plan(ctx, env, live, reconciler.PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		return plan, applyPlan(t, ctx, cluster, env, plan)
	}
	planAndApply()
	for i := range env.Releases {
		if env.Releases[i].Name == "egov-user" {
			env.Releases[i] = env.Releases[i].WithValues(manifest.OverlayValues(env.Releases[i].MergedValues(), map[string]any{"replicas": 3}))
		}
	}
	plan, res := planAndApply()
	for _, r := range res.Releases {
		if r.Name == "egov-user" && (r.Action != reconciler.ActionUpgrade || r.Outcome != reconciler.OutcomeSucceeded) {
			t.Errorf("egov-user: %s %s, want a successful upgrade", r.Action, r.Outcome)
		}
		if len(r.Notes) > 0 {
			t.Errorf("%s: notes %q, want none", r.Name, r.Notes)
		}
	}
	assertInstalledThePlan(t, ctx, cluster, plan)
}

// assertInstalledThePlan checks that every install and upgrade of plan
// stored, as its new revision's manifest, the plan's render.
func assertInstalledThePlan(t *testing.T, ctx context.Context, cluster *kube.Cluster, plan *reconciler.Plan) {
	t.Helper()
	live, err := kube.ReadLiveState(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for i := range plan.Steps {
		st := &plan.Steps[i]
		if st.Action != reconciler.ActionInstall && st.Action != reconciler.ActionUpgrade {
			continue
		}
		m, err := reconciler.RenderStep(ctx, cluster, "", st)
		if err != nil {
			t.Fatal(err)
		}
		l := live[st.Release.Namespace+"/"+st.Release.Name]
		rel, err := kube.ReadRelease(ctx, cluster, st.Release.Namespace, st.Release.Name, l.Version)
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(rel.Manifest) != strings.TrimSpace(m.New) {
			t.Errorf("%s revision %d stored\n%s\nwant the plan's render\n%s", st.Release.Name, l.Version, rel.Manifest, m.New)
		}
		checked++
	}
	if checked == 0 {
		t.Error("the plan installs and upgrades nothing: nothing checked")
	}
}

// driftClusterEnv starts a control plane and loads driftRepo's environment
// with drift mode; the context ends with the test (3 minutes at most).
func driftClusterEnv(t *testing.T, mode manifest.DriftMode) (context.Context, *kube.Cluster, *manifest.Environment) {
	t.Helper()
	tenv := testenv.ForTest(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	cluster, err := kube.NewCluster(tenv.Config)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, cluster, driftEnv(t, ctx, driftRepo(t), mode)
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
