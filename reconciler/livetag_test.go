package reconciler_test

import (
	"strings"
	"testing"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// TestPlan_keepLiveImageTag: a release the release chart lists without a tag
// keeps the tag of its live release: the plan sets it into the release's
// values (not into values other releases share), and the release is
// unchanged when the rest of its values are. Without a live release the
// chart default applies, and the plan says so.
func TestPlan_keepLiveImageTag(t *testing.T) {
	ctx, cluster, env := driftClusterEnv(t, manifest.DriftOff)
	shared := map[string]any{"tag": "v9.9.9-shared"}
	var user *manifest.ReleaseSpec
	for i := range env.Releases {
		if env.Releases[i].Name == "egov-user" {
			user = &env.Releases[i]
		}
	}
	// Deploy egov-user at a hotfix tag, as a release chart would set it.
	*user = user.WithValues(manifest.OverlayValues(user.MergedValues(), map[string]any{"image": map[string]any{"tag": "v1.0.1-hotfix"}}))
	planner, err := reconciler.NewPlanner(cluster, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer planner.Drift.Close()
	live, err := kube.ReadLiveState(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := planner.Plan(ctx, env, live, reconciler.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	applyPlan(t, ctx, cluster, env, plan)

	// The release chart now lists egov-user without a tag; its values share
	// an image map with another release's.
	*user = user.WithValues(manifest.OverlayValues(user.MergedValues(), map[string]any{"image": map[string]any{"tag": nil}}))
	delete(user.Values["image"].(map[string]any), "tag")
	user.Values["image"].(map[string]any)["shared"] = shared
	user.KeepLiveImageTag = true
	live, err = kube.ReadLiveState(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	plan, err = planner.Plan(ctx, env, live, reconciler.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(plan.Notes, "\n")
	if !strings.Contains(notes, `release "egov-user": the release chart names no image tag; keeping the live tag v1.0.1-hotfix`) {
		t.Errorf("notes do not say the live tag is kept:\n%s", notes)
	}
	for _, st := range plan.Steps {
		if st.Release.Name != "egov-user" {
			continue
		}
		img, _ := st.Release.MergedValues()["image"].(map[string]any)
		if img["tag"] != "v1.0.1-hotfix" {
			t.Errorf("planned values image = %v, want the live tag", img)
		}
		// The image map gained a "shared" key, which the chart does not
		// render: the values differ from the deployed ones, the render at
		// the live tag does not (at the chart's default tag it would).
		if st.Action != reconciler.ActionRecord || st.Status != reconciler.StatusRenderUnchanged {
			t.Errorf("egov-user: %s %s (%s), want record: values changed, render unchanged", st.Status, st.Action, st.Reason)
		}
	}
	if _, ok := user.Values["image"].(map[string]any)["tag"]; ok {
		t.Error("the plan wrote the live tag into the loaded environment's values")
	}
	if shared["tag"] != "v9.9.9-shared" || len(shared) != 1 {
		t.Errorf("a map shared with other values was written: %v", shared)
	}

	// Nothing deployed: the chart default, and a note.
	env.Releases = []manifest.ReleaseSpec{*user}
	plan, err = planner.Plan(ctx, env, kube.LiveState{}, reconciler.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Join(plan.Notes, "\n"); !strings.Contains(n, "nothing is deployed; the chart default applies") {
		t.Errorf("notes without a live release:\n%s", n)
	}
}
