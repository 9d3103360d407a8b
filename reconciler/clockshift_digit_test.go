package reconciler_test

import (
	"context"
	"strings"
	"testing"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/loader"
)

// TestClockShifted_digitCharts: DIGIT's charts, as examples/digit writes
// them and as the real repository has them (the corpus's unified-env,
// environment quickstart), get a clock-shifted copy, so an edit's
// volatile-field probe renders at once, with no wait for the next second;
// and the copy renders as the chart does but for deployment-timestamp.
func TestClockShifted_digitCharts(t *testing.T) {
	ctx := context.Background()
	t.Run("examples/digit", func(t *testing.T) {
		repo := t.TempDir()
		copyTree(t, "../examples/digit", repo)
		stampDeployments(t, repo)
		env, err := loader.Environment(ctx, loader.Options{RepoDir: repo}, "demo")
		if err != nil {
			t.Fatal(err)
		}
		checkClockShifted(t, ctx, env)
	})
	t.Run("corpus unified-env quickstart", func(t *testing.T) {
		if testing.Short() {
			t.Skip("skipping: renders every release of a real DIGIT environment twice")
		}
		repo, _ := reconciler.CorpusQuickstartRepoForTest(t, "")
		env, err := loader.Environment(ctx, loader.Options{RepoDir: repo, Secrets: "placeholder"}, "quickstart")
		if err != nil {
			t.Fatal(err)
		}
		checkClockShifted(t, ctx, env)
	})
}

// checkClockShifted renders every release of env, and its clock-shifted
// copy, and fails unless every chart has one and the renders differ
// exactly at the deployment-timestamps of the first.
func checkClockShifted(t *testing.T, ctx context.Context, env *manifest.Environment) {
	t.Helper()
	stamped, rendered := 0, 0
	for _, spec := range env.Releases {
		c, err := reconciler.LocalCharts{}.Load(ctx, spec.Chart)
		if err != nil {
			t.Fatalf("release %s: %v", spec.Name, err)
		}
		first, err := reconciler.Render(ctx, spec, c, reconciler.RenderOptions{})
		if err != nil {
			t.Logf("release %s does not render, left out: %v", spec.Name, err)
			continue
		}
		rendered++
		shifted, ok := reconciler.ClockShiftedForTest(c, spec.MergedValues())
		if !ok {
			t.Errorf("release %s: no clock-shifted copy of its chart", spec.Name)
			continue
		}
		again, err := reconciler.Render(ctx, spec, shifted, reconciler.RenderOptions{})
		if err != nil {
			t.Errorf("release %s: the clock-shifted copy does not render: %v", spec.Name, err)
			continue
		}
		paths := reconciler.NondeterministicPathsForTest(first, again, spec.Namespace)
		for _, p := range paths {
			if !strings.HasSuffix(p, "/annotations/deployment-timestamp") {
				t.Errorf("release %s: the clock-shifted copy renders otherwise at %s", spec.Name, p)
			}
		}
		if n := strings.Count(first, "deployment-timestamp:"); len(paths) != n {
			t.Errorf("release %s: the clock-shifted copy differs at %q, want the %d deployment-timestamps", spec.Name, paths, n)
		}
		if len(paths) > 0 {
			stamped++
		}
	}
	t.Logf("%d of %d releases rendered, %d with a deployment-timestamp", rendered, len(env.Releases), stamped)
	if stamped == 0 {
		t.Error("no release rendered with a deployment-timestamp")
	}
}
