package reconciler_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/digitops/digitops/internal/testenv"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/loader"
)

var update = flag.Bool("update", false, "rewrite golden files")

// plantedSecret is a secret value; it must never appear in a plan.
const plantedSecret = "planted-s3cret-db-password"

// driftRepo copies the quickstart and makes it DIGIT-like: the common chart
// stamps deployment-timestamp on pod templates, and egov-config deploys a
// Secret holding a value from the secrets file.
func driftRepo(t *testing.T) string {
	t.Helper()
	repo := t.TempDir()
	copyTree(t, "../examples/quickstart", repo)
	dep := filepath.Join(repo, "charts/common/templates/_deployment.yaml")
	data, err := os.ReadFile(dep)
	if err != nil {
		t.Fatal(err)
	}
	stamped := strings.Replace(string(data), "  template:\n    metadata:\n", "  template:\n    metadata:\n      annotations:\n        deployment-timestamp: {{ now | date \"2006-01-02-15-04-05\" | quote }}\n", 1)
	if stamped == string(data) {
		t.Fatal("fixture changed: no pod template metadata in the common chart")
	}
	writeFile(t, dep, stamped)
	writeFile(t, filepath.Join(repo, "charts/services/egov-config/templates/secret.yaml"), `apiVersion: v1
kind: Secret
metadata:
  name: egov-config-db
  namespace: {{ .Release.Namespace }}
type: Opaque
stringData:
  password: {{ .Values.dbPassword | quote }}
`)
	return repo
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// driftEnv loads the environment with a drift mode and the planted secret,
// as the digit layout would hand it over from a secrets file.
func driftEnv(t *testing.T, ctx context.Context, repo string, mode manifest.DriftMode) *manifest.Environment {
	t.Helper()
	env, err := loader.Environment(ctx, loader.Options{RepoDir: repo}, "dev")
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	env.Policy.Wait = false
	env.Policy.Drift = mode
	for i := range env.Releases {
		if env.Releases[i].Name == "egov-config" {
			env.Releases[i] = env.Releases[i].WithValues(manifest.OverlayValues(env.Releases[i].MergedValues(), map[string]any{"dbPassword": plantedSecret}))
			env.Releases[i].SecretValues = []string{plantedSecret}
		}
	}
	return env
}

func planDrift(t *testing.T, ctx context.Context, cluster *kube.Cluster, env *manifest.Environment, detect bool) *reconciler.Plan {
	t.Helper()
	live, err := kube.ReadLiveState(ctx, cluster)
	if err != nil {
		t.Fatalf("live state: %v", err)
	}
	planner := &reconciler.Planner{Charts: reconciler.LocalCharts{}}
	if detect {
		if planner.Drift, err = drift.NewDetector(cluster); err != nil {
			t.Fatal(err)
		}
		defer planner.Drift.Close()
	}
	plan, err := planner.Plan(ctx, env, live, reconciler.PlanOptions{})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return plan
}

func applyPlan(t *testing.T, ctx context.Context, cluster *kube.Cluster, env *manifest.Environment, plan *reconciler.Plan) *reconciler.Result {
	t.Helper()
	res := (&reconciler.Applier{Cluster: cluster}).Apply(ctx, env, plan)
	if err := res.Err(); err != nil {
		for _, r := range res.Failed() {
			t.Logf("%s: %s", r.Name, r.Error)
		}
		t.Fatalf("apply: %v", err)
	}
	return res
}

// driftByRelease is the plan's drift, as the golden file holds it.
func driftByRelease(plan *reconciler.Plan) map[string][]drift.Item {
	out := map[string][]drift.Item{}
	for _, st := range plan.Steps {
		if len(st.Drift) > 0 {
			out[st.Release.Name] = st.Drift
		}
	}
	return out
}

func assertGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "drift", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, path, string(got))
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the golden file (run with -update if intended):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// makeDrift changes the cluster the ways people and controllers do.
func makeDrift(t *testing.T, ctx context.Context, cs kubernetes.Interface) {
	t.Helper()
	deps := cs.AppsV1().Deployments("egov")
	// kubectl edit: a new image and an extra env var on egov-user.
	d, err := deps.Get(ctx, "egov-user", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := &d.Spec.Template.Spec.Containers[0]
	c.Image = "egovio/egov-user:hotfix"
	c.Env = append(c.Env, corev1.EnvVar{Name: "EXTRA_DEBUG", Value: "true"})
	if _, err := deps.Update(ctx, d, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatalf("kubectl-edit egov-user: %v", err)
	}
	// kubectl edit: an env var the chart sets is removed from pgr-services.
	d, err = deps.Get(ctx, "pgr-services", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c = &d.Spec.Template.Spec.Containers[0]
	var env []corev1.EnvVar
	for _, e := range c.Env {
		if e.Name != "JAVA_OPTS" {
			env = append(env, e)
		}
	}
	c.Env = env
	if _, err := deps.Update(ctx, d, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatalf("kubectl-edit pgr-services: %v", err)
	}
	// kubectl label: a label the chart does not set.
	patch := []byte(`{"metadata":{"labels":{"team":"hotfixers"}}}`)
	if _, err := deps.Patch(ctx, "pgr-services", types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-label"}); err != nil {
		t.Fatalf("kubectl-label: %v", err)
	}
	// The HPA scales egov-mdms-service: not drift.
	scale, err := deps.GetScale(ctx, "egov-mdms-service", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = 5
	if _, err := deps.UpdateScale(ctx, "egov-mdms-service", scale, metav1.UpdateOptions{FieldManager: "horizontal-pod-autoscaler"}); err != nil {
		t.Fatalf("hpa scale: %v", err)
	}
	// A status-only change: not drift.
	d, err = deps.Get(ctx, "egov-mdms-service", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Status.ObservedGeneration = 42
	d.Status.Conditions = append(d.Status.Conditions, appsv1.DeploymentCondition{Type: "Progressing", Status: corev1.ConditionTrue, Reason: "Test"})
	if _, err := deps.UpdateStatus(ctx, d, metav1.UpdateOptions{FieldManager: "status-writer"}); err != nil {
		t.Fatalf("status update: %v", err)
	}
	// kubectl edit of the Secret: a new password.
	s, err := cs.CoreV1().Secrets("egov").Get(ctx, "egov-config-db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Data["password"] = []byte("hand-set-" + plantedSecret)
	if _, err := cs.CoreV1().Secrets("egov").Update(ctx, s, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatalf("kubectl-edit secret: %v", err)
	}
	// kubectl delete: the ConfigMap is gone.
	if err := cs.CoreV1().ConfigMaps("egov").Delete(ctx, "egov-config", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete configmap: %v", err)
	}
}

func TestDrift_warnThenCorrect(t *testing.T) {
	tenv := testenv.ForTest(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	repo := driftRepo(t)
	cluster, err := kube.NewCluster(tenv.Config)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(tenv.Config)

	// Install, in a later second than the plan rendered in: Helm installs
	// the plan's render (the timestamp the plan showed), so no release
	// notes a render that differs.
	env := driftEnv(t, ctx, repo, manifest.DriftWarn)
	plan := planDrift(t, ctx, cluster, env, true)
	if s := plan.Summary(); s.Install != 4 {
		t.Fatalf("first plan = %+v, want 4 installs", s)
	}
	if n := strings.Join(plan.Notes, "\n"); strings.Contains(n, "renders differently") {
		t.Errorf("an install plan renders each release once and can't know yet, but notes say:\n%s", n)
	}
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	var installNotes []string
	for _, r := range applyPlan(t, ctx, cluster, env, plan).Releases {
		installNotes = append(installNotes, r.Notes...)
	}
	if len(installNotes) > 0 {
		t.Errorf("install notes %q: want none, Helm installed the plan's render", installNotes)
	}
	assertInstalledThePlan(t, ctx, cluster, plan)
	revs := revisions(t, ctx, cluster)

	// No drift yet: nothing to do, nothing written, the timestamp is no drift.
	before := cluster.Requests()
	plan = planDrift(t, ctx, cluster, env, true)
	if s := plan.Summary(); s.Changes() != 0 {
		t.Fatalf("plan right after install = %+v, want no changes; drift %v", s, driftByRelease(plan))
	}
	if len(plan.Notes) != 0 {
		t.Errorf("a no-op plan renders nothing, yet notes %v", plan.Notes)
	}
	if plan.APIRequests == 0 {
		t.Error("plan.APIRequests = 0 after checking 4 releases for drift")
	}
	if w := cluster.Requests().Since(before).Writes(); w != 0 {
		t.Errorf("a no-op plan made %d write requests", w)
	}

	makeDrift(t, ctx, cs)

	// off: not looked at, no request made.
	plan = planDrift(t, ctx, cluster, driftEnv(t, ctx, repo, manifest.DriftOff), true)
	if s := plan.Summary(); s.Changes() != 0 || len(driftByRelease(plan)) != 0 || plan.APIRequests != 0 {
		t.Errorf("drift off: plan = %+v, drift %v, %d requests; want nothing", s, driftByRelease(plan), plan.APIRequests)
	}

	// warn: reported, named, masked, not corrected.
	plan = planDrift(t, ctx, cluster, env, true)
	if s := plan.Summary(); s.Changes() != 0 {
		t.Errorf("warn plan = %+v, want no changes", s)
	}
	got := driftByRelease(plan)
	if _, ok := got["egov-mdms-service"]; ok {
		t.Errorf("HPA replicas, status or the timestamp flagged as drift: %v", got["egov-mdms-service"])
	}
	js, _ := json.MarshalIndent(got, "", "  ")
	assertGolden(t, "warn.golden.json", append(js, '\n'))
	assertNoSecret(t, plan)
	for _, st := range plan.Steps {
		if len(st.Drift) > 0 && !strings.Contains(st.Reason, "warn") {
			t.Errorf("%s: reason %q does not say drift is only reported", st.Release.Name, st.Reason)
		}
	}
	applyPlan(t, ctx, cluster, env, plan)
	d, _ := cs.AppsV1().Deployments("egov").Get(ctx, "egov-user", metav1.GetOptions{})
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "egovio/egov-user:hotfix" {
		t.Errorf("warn mode changed the image to %q", img)
	}

	// correct: restored in place, no new Helm revision.
	env = driftEnv(t, ctx, repo, manifest.DriftCorrect)
	plan = planDrift(t, ctx, cluster, env, true)
	want := map[string]reconciler.Action{"egov-config": reconciler.ActionCorrectDrift, "egov-user": reconciler.ActionCorrectDrift,
		"pgr-services": reconciler.ActionCorrectDrift, "egov-mdms-service": reconciler.ActionNone}
	for _, st := range plan.Steps {
		if st.Action != want[st.Release.Name] {
			t.Errorf("%s: action %s (%s), want %s", st.Release.Name, st.Action, st.Reason, want[st.Release.Name])
		}
	}
	assertNoSecret(t, plan)
	applyPlan(t, ctx, cluster, env, plan)
	assertRevisions(t, revisions(t, ctx, cluster), revs)

	d, _ = cs.AppsV1().Deployments("egov").Get(ctx, "egov-user", metav1.GetOptions{})
	c := d.Spec.Template.Spec.Containers[0]
	if c.Image != "egovio/egov-user:v1.0.0" {
		t.Errorf("image after correction = %q", c.Image)
	}
	for _, e := range c.Env {
		if e.Name == "EXTRA_DEBUG" {
			t.Error("the added env var survived the correction")
		}
	}
	d, _ = cs.AppsV1().Deployments("egov").Get(ctx, "pgr-services", metav1.GetOptions{})
	if _, ok := d.Labels["team"]; ok {
		t.Error("the added label survived the correction")
	}
	if !hasEnv(d.Spec.Template.Spec.Containers[0].Env, "JAVA_OPTS") {
		t.Error("the removed env var was not restored")
	}
	d, _ = cs.AppsV1().Deployments("egov").Get(ctx, "egov-mdms-service", metav1.GetOptions{})
	if *d.Spec.Replicas != 5 {
		t.Errorf("HPA-owned replicas = %d after correction, want 5 (left alone)", *d.Spec.Replicas)
	}
	cm, err := cs.CoreV1().ConfigMaps("egov").Get(ctx, "egov-config", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("deleted ConfigMap not re-created: %v", err)
	}
	if cm.Annotations["meta.helm.sh/release-name"] != "egov-config" {
		t.Errorf("re-created ConfigMap lacks Helm's ownership: %v", cm.Annotations)
	}
	s, _ := cs.CoreV1().Secrets("egov").Get(ctx, "egov-config-db", metav1.GetOptions{})
	if string(s.Data["password"]) != plantedSecret {
		t.Error("Secret data not restored")
	}

	// Corrected: the next plan finds nothing and writes nothing.
	before = cluster.Requests()
	plan = planDrift(t, ctx, cluster, env, true)
	if s := plan.Summary(); s.Changes() != 0 {
		t.Errorf("plan after correction = %+v; drift %v", s, driftByRelease(plan))
	}
	if w := cluster.Requests().Since(before).Writes(); w != 0 {
		t.Errorf("a no-op plan made %d write requests", w)
	}
	hist := helmHistory(t, cluster, "egov", "egov-user")
	if len(hist) != 1 {
		t.Errorf("helm history of egov-user = %v, want one revision (correction is in place)", hist)
	}
}

func hasEnv(env []corev1.EnvVar, name string) bool {
	for _, e := range env {
		if e.Name == name {
			return true
		}
	}
	return false
}

// assertNoSecret fails when the planted secret, in clear or base64, appears
// anywhere in the plan's printable parts.
func assertNoSecret(t *testing.T, plan *reconciler.Plan) {
	t.Helper()
	type printable struct {
		Notes []string
		Steps []any
	}
	p := printable{Notes: plan.Notes}
	for _, st := range plan.Steps {
		p.Steps = append(p.Steps, map[string]any{"name": st.Release.Name, "action": st.Action, "reason": st.Reason, "drift": st.Drift})
	}
	js, _ := json.Marshal(p)
	for _, s := range []string{plantedSecret, base64.StdEncoding.EncodeToString([]byte(plantedSecret)), base64.StdEncoding.EncodeToString([]byte("hand-set-" + plantedSecret))} {
		if strings.Contains(string(js), s) {
			t.Errorf("the planted secret appears in the plan: %s", js)
		}
	}
}
