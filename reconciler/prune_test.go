package reconciler_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// installForeign installs a release of the quickstart's mdms chart straight
// through Helm, as someone else would: with labels (nil: none).
func installForeign(t *testing.T, ctx context.Context, cluster *kube.Cluster, repo, name string, labels map[string]string) {
	t.Helper()
	c, err := reconciler.LocalCharts{}.Load(ctx, manifest.ChartRef{Path: filepath.Join(repo, "charts/services/egov-mdms-service")})
	if err != nil {
		t.Fatal(err)
	}
	inst := action.NewInstall(reconciler.ActionConfigForTest(cluster, "egov"))
	inst.ReleaseName, inst.Namespace, inst.Labels = name, "egov", labels
	values := map[string]any{"name": name, "global": map[string]any{"containerRegistry": "egovio"}}
	if _, err := inst.RunWithContext(ctx, c, values); err != nil {
		t.Fatalf("install %s: %v", name, err)
	}
}

// TestApply_pruneSafety: with prune on, digitops uninstalls only releases it
// installed for this environment, never on a load error, and never more than
// the guard allows.
func TestApply_pruneSafety(t *testing.T) {
	_, cluster := startCluster(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	repo := t.TempDir()
	copyTree(t, "../examples/quickstart", repo)
	cfgPath := filepath.Join(repo, "digitops.yaml")
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	good := strings.Replace(string(data), "      timeout: 2m\n", "      timeout: 2m\n      prune: true\n", 1)
	if good == string(data) {
		t.Fatal("fixture changed: no 'timeout: 2m' in digitops.yaml")
	}
	writeConfig(t, repo, good)
	run := syncRun{Repo: repo, Policy: noWait}
	if _, res := run.mustRun(t, ctx, cluster); res.Err() != nil {
		t.Fatalf("install: %v", res.Err())
	}
	installForeign(t, ctx, cluster, repo, "hand-made", nil)
	installForeign(t, ctx, cluster, repo, "prod-svc", map[string]string{kube.LabelEnvironment: "prod"})
	all := revisions(t, ctx, cluster)
	if len(all) != 6 {
		t.Fatalf("live releases %v, want 6", all)
	}

	// 1. A broken digitops.yaml after a good sync: the load fails, nothing
	// is planned, nothing is removed.
	writeConfig(t, repo, "environments:\n  - name: dev\n    releases: [\n")
	if _, _, err := run.run(ctx, cluster); err == nil {
		t.Error("a broken digitops.yaml loaded")
	}
	assertRevisions(t, revisions(t, ctx, cluster), all)

	// 2. An environment emptied by mistake (it loads, with no releases):
	// the guard refuses to prune all four.
	writeConfig(t, repo, "environments:\n  - name: dev\n    layout: native\n    sync: {prune: true}\n    releases: []\n")
	if _, _, err := run.run(ctx, cluster); err == nil || !strings.Contains(err.Error(), "refusing to prune 4 of 4 releases") {
		t.Errorf("emptied environment: err = %v, want the prune guard", err)
	}
	assertRevisions(t, revisions(t, ctx, cluster), all)

	// 3. pgr-services leaves Git: it is pruned; the releases digitops did not
	// install (unlabelled, or another environment's) are not, although Git
	// does not have them either.
	writeConfig(t, repo, good[:strings.Index(good, "      - name: pgr-services")])
	plan, res := run.mustRun(t, ctx, cluster)
	var pruned []string
	for _, st := range plan.Steps {
		if st.Action == reconciler.ActionUninstall {
			pruned = append(pruned, st.Release.Name)
		}
	}
	if !reflect.DeepEqual(pruned, []string{"pgr-services"}) {
		t.Errorf("pruned %v, want [pgr-services]", pruned)
	}
	if err := res.Err(); err != nil {
		t.Fatalf("prune: %v", err)
	}
	delete(all, "pgr-services")
	assertRevisions(t, revisions(t, ctx, cluster), all)
}
