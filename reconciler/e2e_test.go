package reconciler_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/digitops/digitops/internal/fsutil"
	"github.com/digitops/digitops/internal/testenv"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/loader"
)

// copyTree copies the directory src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if err := fsutil.CopyTree(src, dst); err != nil {
		t.Fatal(err)
	}
}

// syncOnce loads env, plans against the live state and applies.
func syncOnce(t *testing.T, ctx context.Context, cluster *kube.Cluster, repo string) (*reconciler.Plan, *reconciler.Result) {
	t.Helper()
	env, err := loader.Environment(ctx, loader.Options{RepoDir: repo}, "dev")
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	env.Policy.Wait = false // no controllers in this control plane
	live, err := kube.ReadLiveState(ctx, cluster)
	if err != nil {
		t.Fatalf("live state: %v", err)
	}
	planner := &reconciler.Planner{Charts: reconciler.LocalCharts{}}
	plan, err := planner.Plan(ctx, env, live, reconciler.PlanOptions{})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	applier := &reconciler.Applier{Cluster: cluster}
	res := applier.Apply(ctx, env, plan)
	if err := res.Err(); err != nil {
		for _, r := range res.Failed() {
			t.Logf("%s: %s", r.Name, r.Error)
		}
		t.Fatalf("apply: %v", err)
	}
	return plan, res
}

func revisions(t *testing.T, ctx context.Context, cluster *kube.Cluster) map[string]int {
	t.Helper()
	live, err := kube.ReadLiveState(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, l := range live {
		out[l.Name] = l.Version
	}
	return out
}

func TestApply_installNoOpAndUpgradeOne(t *testing.T) {
	env := testenv.ForTest(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	repo := t.TempDir()
	copyTree(t, "../examples/quickstart", repo)
	cluster, err := kube.NewCluster(env.Config)
	if err != nil {
		t.Fatal(err)
	}

	// 1. Install everything, in needs order.
	plan, res := syncOnce(t, ctx, cluster, repo)
	if s := plan.Summary(); s.Install != 4 || s.Changes() != 4 {
		t.Fatalf("first plan = %+v, want 4 installs", s)
	}
	started := map[string]time.Time{}
	finished := map[string]time.Time{}
	for _, r := range res.Releases {
		started[r.Name] = r.Started
		finished[r.Name] = r.Started.Add(r.Duration)
	}
	for _, pair := range [][2]string{{"egov-config", "egov-mdms-service"}, {"egov-mdms-service", "egov-user"}, {"egov-user", "pgr-services"}} {
		if started[pair[1]].Before(finished[pair[0]]) {
			t.Errorf("%s started at %s, before %s (which it needs) finished at %s", pair[1], started[pair[1]], pair[0], finished[pair[0]])
		}
	}
	cs := kubernetes.NewForConfigOrDie(env.Config)
	dep, err := cs.AppsV1().Deployments("egov").Get(ctx, "egov-user", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("egov-user Deployment: %v", err)
	}
	if got := *dep.Spec.Replicas; got != 2 {
		t.Errorf("egov-user replicas = %d, want 2 (from the inline values)", got)
	}
	if got := dep.Spec.Template.Spec.Containers[0].Image; got != "egovio/egov-user:v1.0.0" {
		t.Errorf("egov-user image = %q", got)
	}
	if _, err := cs.CoreV1().ConfigMaps("egov").Get(ctx, "egov-config", metav1.GetOptions{}); err != nil {
		t.Errorf("egov-config ConfigMap: %v", err)
	}
	want := map[string]int{"egov-config": 1, "egov-mdms-service": 1, "egov-user": 1, "pgr-services": 1}
	assertRevisions(t, revisions(t, ctx, cluster), want)

	// 2. Nothing changed: no step acts, no revision moves.
	plan, _ = syncOnce(t, ctx, cluster, repo)
	if s := plan.Summary(); s.Changes() != 0 || s.Unchanged != 4 {
		t.Fatalf("no-op plan = %+v, want 4 unchanged", s)
	}
	assertRevisions(t, revisions(t, ctx, cluster), want)

	// 3. One value changes: only that release is upgraded.
	cfgPath := filepath.Join(repo, "digitops.yaml")
	data, _ := os.ReadFile(cfgPath)
	changed := strings.Replace(string(data), "replicas: 2", "replicas: 3", 1)
	if changed == string(data) {
		t.Fatal("fixture changed: no 'replicas: 2' in digitops.yaml")
	}
	if err := os.WriteFile(cfgPath, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	plan, _ = syncOnce(t, ctx, cluster, repo)
	if s := plan.Summary(); s.Upgrade != 1 || s.Changes() != 1 {
		t.Fatalf("plan after a value change = %+v, want 1 upgrade", s)
	}
	for _, st := range plan.Steps {
		if st.Action == reconciler.ActionUpgrade && (st.Release.Name != "egov-user" || st.Reason != "values changed") {
			t.Errorf("upgrade of %s (%s), want egov-user (values changed)", st.Release.Name, st.Reason)
		}
	}
	want["egov-user"] = 2
	assertRevisions(t, revisions(t, ctx, cluster), want)
	dep, _ = cs.AppsV1().Deployments("egov").Get(ctx, "egov-user", metav1.GetOptions{})
	if got := *dep.Spec.Replicas; got != 3 {
		t.Errorf("egov-user replicas after upgrade = %d, want 3", got)
	}

	// 4. Someone runs `helm upgrade --reuse-values --set replicas=5` by hand:
	// Helm carries digitops's labels over, but the revision label gives it
	// away, and the next sync restores Git's state.
	manual := action.NewUpgrade(reconciler.ActionConfigForTest(cluster, "egov"))
	manual.Namespace = "egov"
	manual.ReuseValues = true
	userChart, err := reconciler.LocalCharts{}.Load(ctx, manifest.ChartRef{Path: filepath.Join(repo, "charts/services/egov-user")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := manual.RunWithContext(ctx, "egov-user", userChart, map[string]any{"replicas": 5}); err != nil {
		t.Fatalf("manual helm upgrade: %v", err)
	}
	plan, _ = syncOnce(t, ctx, cluster, repo)
	if s := plan.Summary(); s.Upgrade != 1 || s.Changes() != 1 {
		t.Fatalf("plan after a manual helm upgrade = %+v, want 1 upgrade", s)
	}
	for _, st := range plan.Steps {
		if st.Action == reconciler.ActionUpgrade && !strings.Contains(st.Reason, "written outside digitops") {
			t.Errorf("upgrade reason = %q, want it to say the revision was written outside digitops", st.Reason)
		}
	}
	dep, _ = cs.AppsV1().Deployments("egov").Get(ctx, "egov-user", metav1.GetOptions{})
	if got := *dep.Spec.Replicas; got != 3 {
		t.Errorf("egov-user replicas after the correcting sync = %d, want 3", got)
	}
	want["egov-user"] = 4
	assertRevisions(t, revisions(t, ctx, cluster), want)
	plan, _ = syncOnce(t, ctx, cluster, repo)
	if s := plan.Summary(); s.Changes() != 0 {
		t.Errorf("plan after the correcting sync = %+v, want no changes", s)
	}

	// Helm's own history agrees.
	hist := helmHistory(t, cluster, "egov", "egov-user")
	if len(hist) != 4 || hist[0] != "superseded" || hist[3] != "deployed" {
		t.Errorf("helm history of egov-user = %v, want [superseded superseded superseded deployed]", hist)
	}
}

func assertRevisions(t *testing.T, got, want map[string]int) {
	t.Helper()
	for name, v := range want {
		if got[name] != v {
			t.Errorf("release %s at revision %d, want %d", name, got[name], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("live releases %v, want %v", got, want)
	}
}

// helmHistory reads a release's history through Helm's own storage.
func helmHistory(t *testing.T, cluster *kube.Cluster, namespace, name string) []string {
	t.Helper()
	cfg := reconciler.ActionConfigForTest(cluster, namespace)
	h := action.NewHistory(cfg)
	rels, err := h.Run(name)
	if err != nil {
		t.Fatalf("helm history %s: %v", name, err)
	}
	out := make([]string, len(rels))
	for i, r := range rels {
		out[i] = r.Info.Status.String()
	}
	return out
}
