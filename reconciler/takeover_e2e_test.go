package reconciler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/digitops/digitops/internal/fsutil"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
	envloader "github.com/digitops/digitops/source/manifest/loader"
)

// takeoverChart is shaped like a DIGIT service chart on the common chart:
// objects named from the values (not the release), and a pod template
// stamped with the render time.
var takeoverChart = map[string]string{
	"charts/svc/Chart.yaml": "apiVersion: v2\nname: svc\nversion: 0.1.0\n",
	"charts/svc/templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Values.name }}
  namespace: {{ .Release.Namespace }}
spec:
  replicas: 1
  selector:
    matchLabels: {app: {{ .Values.name }}}
  template:
    metadata:
      labels: {app: {{ .Values.name }}}
      annotations:
        deployment-timestamp: {{ now | date "20060102150405" | quote }}
    spec:
      containers:
        - name: app
          image: egovio/{{ .Values.name }}:v1
`,
	"charts/svc/templates/service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: {{ .Values.name }}
  namespace: {{ .Release.Namespace }}
spec:
  selector: {app: {{ .Values.name }}}
  ports: [{port: 8080}]
`,
	"charts/svc/templates/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Values.name }}
  namespace: {{ .Release.Namespace }}
data: {db: db.backbone}
`,
	"digitops.yaml": `environments:
  - name: dev
    layout: native
    sync: {wait: false}
    releases:
      - {name: egov-user, namespace: egov, chart: charts/svc, values: [{name: egov-user}]}
      - {name: pgr-services, namespace: egov, chart: charts/svc, values: [{name: pgr-services}]}
`,
}

// deployLikeTheGoDeployer renders the chart as `helm template` with no
// release name does and creates every object as `kubectl apply` does: no
// Helm release, no Helm ownership metadata.
func deployLikeTheGoDeployer(t *testing.T, ctx context.Context, cluster *kube.Cluster, repo, name string) {
	t.Helper()
	deployChartLikeTheGoDeployer(t, ctx, cluster, filepath.Join(repo, "charts/svc"), map[string]any{"name": name})
}

func deployChartLikeTheGoDeployer(t *testing.T, ctx context.Context, cluster *kube.Cluster, chartDir string, values map[string]any) {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := reconciler.Render(ctx, manifest.ReleaseSpec{Name: "release-name", Namespace: "egov", Values: values}, c, reconciler.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(m, "\n---") {
		u := unstructured.Unstructured{Object: map[string]any{}}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil || u.GetKind() == "" {
			continue
		}
		createAs(t, ctx, cluster, &u, "kubectl-client-side-apply")
	}
}

// takeoverRepo writes files into a new repository (digitops.yaml replaced
// by config when given) and creates the namespace egov as `kubectl apply`
// of cluster-configs does.
func takeoverRepo(t *testing.T, ctx context.Context, cluster *kube.Cluster, files map[string]string, config string) string {
	t.Helper()
	repo := t.TempDir()
	writeFiles(t, repo, files)
	if config != "" {
		writeFiles(t, repo, map[string]string{"digitops.yaml": config})
	}
	if _, err := cluster.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "egov"}}, metav1.CreateOptions{FieldManager: "kubectl-client-side-apply"}); err != nil {
		t.Fatal(err)
	}
	return repo
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	if err := fsutil.WriteFiles(dir, files); err != nil {
		t.Fatal(err)
	}
}

func createAs(t *testing.T, ctx context.Context, cluster *kube.Cluster, u *unstructured.Unstructured, manager string) {
	t.Helper()
	gvr := map[string]schema.GroupVersionResource{
		"Deployment": {Group: "apps", Version: "v1", Resource: "deployments"},
		"Service":    {Version: "v1", Resource: "services"},
		"ConfigMap":  {Version: "v1", Resource: "configmaps"},
		"Secret":     {Version: "v1", Resource: "secrets"},
	}[u.GetKind()]
	if _, err := cluster.Dynamic.Resource(gvr).Namespace(u.GetNamespace()).Create(ctx, u, metav1.CreateOptions{FieldManager: manager}); err != nil {
		t.Fatalf("create %s/%s: %v", u.GetKind(), u.GetName(), err)
	}
}

func TestApply_takesOverWhatTheGoDeployerApplied(t *testing.T) {
	ctx := context.Background()
	_, cluster := startCluster(t, false)
	repo := takeoverRepo(t, ctx, cluster, takeoverChart, "")
	deployLikeTheGoDeployer(t, ctx, cluster, repo, "egov-user")
	// pgr-services' ConfigMap belongs to a Helm release of another name (a
	// helmfile release): never taken silently.
	foreign := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{
			"name": "pgr-services", "namespace": "egov",
			"labels":      map[string]any{"app.kubernetes.io/managed-by": "Helm"},
			"annotations": map[string]any{"meta.helm.sh/release-name": "helmfile-pgr", "meta.helm.sh/release-namespace": "egov"},
		},
	}}
	createAs(t, ctx, cluster, foreign, "helm")
	before, err := cluster.Clientset.AppsV1().Deployments("egov").Get(ctx, "egov-user", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // a render now stamps another second

	plan, res := planAndApply(t, ctx, cluster, repo)
	user, pgr := stepOf(t, plan, "egov-user"), stepOf(t, plan, "pgr-services")
	if user.Action != reconciler.ActionInstall || len(user.Adopt) != 3 {
		t.Fatalf("egov-user: %s (%s), adopt %v; want an install taking over 3 objects", user.Action, user.Reason, user.Adopt)
	}
	for _, a := range user.Adopt {
		if a.Owner != "managed by kubectl-client-side-apply" {
			t.Errorf("adoption of %s names owner %q", a.Object, a.Owner)
		}
		if a.Object == "Deployment/egov/egov-user" && !(len(a.Kept) == 1 && a.Kept[0] == "/spec/template/metadata/annotations/deployment-timestamp") {
			t.Errorf("the Deployment's kept fields = %v, want the deployment-timestamp", a.Kept)
		}
	}
	if pgr.Action != reconciler.ActionError || !strings.Contains(pgr.Reason, "ConfigMap/egov/pgr-services belongs to Helm release egov/helmfile-pgr") {
		t.Errorf("pgr-services: %s: %s; want an error naming the owning release", pgr.Action, pgr.Reason)
	}
	if r := resultOf(t, res, "egov-user"); r.Outcome != reconciler.OutcomeSucceeded {
		t.Fatalf("egov-user: %s: %s", r.Outcome, r.Error)
	}

	after, err := cluster.Clientset.AppsV1().Deployments("egov").Get(ctx, "egov-user", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Helm's ownership annotations count as a new generation for a
	// Deployment (its annotations are copied to ReplicaSets), but the pod
	// template, and so the pods, must not change.
	if !equality.Semantic.DeepEqual(after.Spec, before.Spec) {
		b1, _ := json.Marshal(before.Spec)
		b2, _ := json.Marshal(after.Spec)
		t.Errorf("the takeover changed the Deployment's spec (pods restart):\nbefore %s\nafter  %s", b1, b2)
	}
	if moved := after.Generation - before.Generation; moved > 2 {
		t.Errorf("the Deployment's generation moved by %d, want 2 at most (Helm's ownership, digitops's takeover record; docs/configuration.md says so)", moved)
	}
	for _, f := range after.ManagedFields {
		if f.Manager == "kubectl-client-side-apply" {
			t.Errorf("the Deployment's fields still belong to %s after the takeover", f.Manager)
		}
	}
	if got := after.Annotations["meta.helm.sh/release-name"]; got != "egov-user" {
		t.Errorf("the Deployment's Helm owner is %q, want egov-user", got)
	}
	if cm, err := cluster.Clientset.CoreV1().ConfigMaps("egov").Get(ctx, "pgr-services", metav1.GetOptions{}); err != nil || cm.Annotations["meta.helm.sh/release-name"] != "helmfile-pgr" {
		t.Errorf("the foreign ConfigMap was touched: %v %v", err, cm.GetAnnotations())
	}

	// The next sync has nothing to do for the adopted release.
	plan, _ = planAndApply(t, ctx, cluster, repo)
	if st := stepOf(t, plan, "egov-user"); st.Action != reconciler.ActionNone || len(st.Drift) != 0 {
		t.Errorf("after the takeover: %s (%s), drift %v; want nothing to do", st.Action, st.Reason, st.Drift)
	}
}

func planAndApply(t *testing.T, ctx context.Context, cluster *kube.Cluster, repo string) (*reconciler.Plan, *reconciler.Result) {
	t.Helper()
	env, plan := planEnv(t, ctx, cluster, repo)
	return plan, (&reconciler.Applier{Cluster: cluster}).Apply(ctx, env, plan)
}

func planOnly(t *testing.T, ctx context.Context, cluster *kube.Cluster, repo string) *reconciler.Plan {
	t.Helper()
	_, plan := planEnv(t, ctx, cluster, repo)
	return plan
}

func planEnv(t *testing.T, ctx context.Context, cluster *kube.Cluster, repo string) (*manifest.Environment, *reconciler.Plan) {
	t.Helper()
	env, err := envloader.Environment(ctx, envloader.Options{RepoDir: repo}, "dev")
	if err != nil {
		t.Fatal(err)
	}
	live, err := kube.ReadLiveState(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	planner, err := reconciler.NewPlanner(cluster, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	plan, err := planner.Plan(ctx, env, live, reconciler.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return env, plan
}

// A release helmfile installed under the name digitops uses, from the same
// chart and values, is taken over without a new revision.
func TestApply_takesOverAHelmfileReleaseWithoutANewRevision(t *testing.T) {
	ctx := context.Background()
	_, cluster := startCluster(t, false)
	repo := takeoverRepo(t, ctx, cluster, takeoverChart, "")
	c, err := loader.Load(filepath.Join(repo, "charts/svc"))
	if err != nil {
		t.Fatal(err)
	}
	// helmfile sync: a Helm install of each release with its values.
	for _, name := range []string{"egov-user", "pgr-services"} {
		inst := action.NewInstall(reconciler.ActionConfigForTest(cluster, "egov"))
		inst.ReleaseName, inst.Namespace = name, "egov"
		values := map[string]any{"name": name}
		if name == "pgr-services" {
			values["extra"] = "a value Git does not have"
		}
		if _, err := inst.RunWithContext(ctx, c, values); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second) // the digitops render stamps another second

	plan, res := planAndApply(t, ctx, cluster, repo)
	user, pgr := stepOf(t, plan, "egov-user"), stepOf(t, plan, "pgr-services")
	if !strings.Contains(user.Reason, "no new revision") {
		t.Errorf("egov-user: %s: %s; want its labels recorded, no new revision", user.Action, user.Reason)
	}
	if pgr.Action != reconciler.ActionUpgrade || strings.Contains(pgr.Reason, "no new revision") {
		t.Errorf("pgr-services (other values): %s: %s; want an upgrade", pgr.Action, pgr.Reason)
	}
	for _, name := range []string{"egov-user", "pgr-services"} {
		if r := resultOf(t, res, name); r.Outcome != reconciler.OutcomeSucceeded {
			t.Fatalf("%s: %s: %s", name, r.Outcome, r.Error)
		}
	}
	revs := revisions(t, ctx, cluster)
	if revs["egov-user"] != 1 || revs["pgr-services"] != 2 {
		t.Errorf("revisions after the takeover = %v, want egov-user still at 1 and pgr-services upgraded to 2", revs)
	}
	plan, _ = planAndApply(t, ctx, cluster, repo)
	if s := plan.Summary(); s.Changes() != 0 {
		t.Errorf("after the takeover: %+v, want nothing to do", s)
	}
}

// A chart whose object names come from .Release.Name, as kafka-kraft's: the
// Go deployer rendered it as "release-name", and the environment files
// point at those names.
var kafkaShapedChart = map[string]string{
	"charts/kafka-kraft/Chart.yaml": "apiVersion: v2\nname: kafka-kraft\nversion: 0.1.0\n",
	"charts/kafka-kraft/templates/service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-kafka-controller-headless
  namespace: {{ .Release.Namespace }}
spec:
  clusterIP: None
  selector: {app: kafka}
  ports: [{port: 9092}]
`,
	"charts/kafka-kraft/templates/secret.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-kafka-kraft-cluster-id
  namespace: {{ .Release.Namespace }}
stringData: {id: abc}
`,
}

// kafkaConfig is an environment of a service and the kafka-shaped chart,
// with the releaseName line given (or none) and more sync settings.
func kafkaConfig(releaseName, sync string) string {
	return `environments:
  - name: dev
    layout: native
` + releaseName + `    sync: {wait: false` + sync + `}
    releases:
      - {name: egov-user, namespace: egov, chart: charts/svc, values: [{name: egov-user}]}
      - {name: kafka-kraft, namespace: egov, chart: charts/kafka-kraft}
`
}

// kafkaDeployedByTheGoDeployer is a cluster the Go deployer ran: a service
// chart beside the kafka one (the plan takes the service's objects over,
// which is when it looks for the deployer's names). It returns the
// repository, with config.
func kafkaDeployedByTheGoDeployer(t *testing.T, ctx context.Context, cluster *kube.Cluster, config string) string {
	t.Helper()
	files := map[string]string{}
	maps.Copy(files, takeoverChart)
	maps.Copy(files, kafkaShapedChart)
	repo := takeoverRepo(t, ctx, cluster, files, config)
	deployLikeTheGoDeployer(t, ctx, cluster, repo, "egov-user")
	deployChartLikeTheGoDeployer(t, ctx, cluster, filepath.Join(repo, "charts/kafka-kraft"), nil)
	return repo
}

func TestApply_keepsTheGoDeployersObjectNames(t *testing.T) {
	ctx := context.Background()
	_, cluster := startCluster(t, false)
	repo := kafkaDeployedByTheGoDeployer(t, ctx, cluster, kafkaConfig("    releaseName: deployer\n", ""))

	// Without releaseName: deployer, the plan says what would be left.
	cfg, err := os.ReadFile(filepath.Join(repo, "digitops.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, repo, map[string]string{"digitops.yaml": strings.Replace(string(cfg), "    releaseName: deployer\n", "", 1)})
	plan := planOnly(t, ctx, cluster, repo)
	notes := strings.Join(plan.Notes, "\n")
	if !strings.Contains(notes, "Service/egov/release-name-kafka-controller-headless") || !strings.Contains(notes, "Secret/egov/release-name-kafka-kraft-cluster-id") || !strings.Contains(notes, "releaseName: deployer") {
		t.Errorf("plan notes without releaseName: deployer:\n%s\nwant the deployer's objects named, and the setting", notes)
	}
	// …and lists them as the release's orphans, never to be deleted: the
	// takeover does not adopt them.
	if st, want := stepOf(t, plan, "kafka-kraft"), []reconciler.Orphan{{Object: "Secret/egov/release-name-kafka-kraft-cluster-id"}, {Object: "Service/egov/release-name-kafka-controller-headless"}}; !slices.EqualFunc(st.Orphans, want, func(a, b reconciler.Orphan) bool {
		return a.Object == b.Object && a.Adopted == b.Adopted && a.Delete == b.Delete
	}) {
		t.Errorf("kafka-kraft orphans without releaseName: deployer = %+v, want %+v", st.Orphans, want)
	}
	writeFiles(t, repo, map[string]string{"digitops.yaml": string(cfg)})

	plan, res := planAndApply(t, ctx, cluster, repo)
	st := stepOf(t, plan, "kafka-kraft")
	if st.Action != reconciler.ActionInstall || len(st.Adopt) != 2 || st.Adopt[1].Object != "Service/egov/release-name-kafka-controller-headless" {
		t.Fatalf("kafka-kraft: %s (%s), adopt %v; want an install taking the deployer's two objects", st.Action, st.Reason, st.Adopt)
	}
	if r := resultOf(t, res, "kafka-kraft"); r.Outcome != reconciler.OutcomeSucceeded {
		t.Fatalf("kafka-kraft: %s: %s", r.Outcome, r.Error)
	}
	svcs, err := cluster.Clientset.CoreV1().Services("egov").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string]string{}
	for _, svc := range svcs.Items {
		owners[svc.Name] = svc.Annotations["meta.helm.sh/release-name"]
	}
	if want := map[string]string{"egov-user": "egov-user", "release-name-kafka-controller-headless": "kafka-kraft"}; !maps.Equal(owners, want) {
		t.Errorf("services after the takeover (name: Helm owner) = %v, want %v: the deployer's kafka Service, no second one", owners, want)
	}
	plan, _ = planAndApply(t, ctx, cluster, repo)
	if s := plan.Summary(); s.Changes() != 0 {
		t.Errorf("after the takeover: %+v, want nothing to do", s)
	}
}

// The objects a takeover adopted carry its record; when the release stops
// rendering them (here: the environment drops releaseName: deployer, so
// the kafka chart names its objects after the release), Helm keeps them
// and the plan lists them as orphans; prune, once on, deletes exactly
// those, never an object that only looks like one.
func TestApply_deletesOnlyTheOrphansItAdopted(t *testing.T) {
	ctx := context.Background()
	_, cluster := startCluster(t, false)
	repo := kafkaDeployedByTheGoDeployer(t, ctx, cluster, kafkaConfig("    releaseName: deployer\n", ""))
	const (
		oldSvc = "release-name-kafka-controller-headless"
		oldSec = "release-name-kafka-kraft-cluster-id"
		newSvc = "kafka-kraft-kafka-controller-headless"
		newSec = "kafka-kraft-kafka-kraft-cluster-id"
	)
	services := cluster.Clientset.CoreV1().Services("egov")
	secrets := cluster.Clientset.CoreV1().Secrets("egov")

	// The takeover records itself on what it adopted.
	_, res := planAndApply(t, ctx, cluster, repo)
	if r := resultOf(t, res, "kafka-kraft"); r.Outcome != reconciler.OutcomeSucceeded {
		t.Fatalf("takeover of kafka-kraft: %s: %s", r.Outcome, r.Error)
	}
	svc, err := services.Get(ctx, oldSvc, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Labels[kube.AdoptedByLabel] != "kafka-kraft" || svc.Annotations[kube.AdoptedByAnnotation] != "dev/egov/kafka-kraft" || svc.Annotations[kube.HelmResourcePolicyAnnotation] != "keep" {
		t.Fatalf("adopted Service: labels %v, annotations %v; want the takeover's record and Helm's keep policy", svc.Labels, svc.Annotations)
	}
	// An object that looks adopted but lacks the record: never deleted.
	lookalike := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": "release-name-kafka-lookalike", "namespace": "egov", "labels": map[string]any{kube.AdoptedByLabel: "kafka-kraft"}},
		"spec":     map[string]any{"ports": []any{map[string]any{"port": int64(9092)}}},
	}}
	createAs(t, ctx, cluster, lookalike, "kubectl-client-side-apply")

	// Without deployer names, prune off: the upgrade keeps the adopted
	// objects beside the new ones and lists them.
	writeFiles(t, repo, map[string]string{"digitops.yaml": kafkaConfig("", "")})
	plan, res := planAndApply(t, ctx, cluster, repo)
	st := stepOf(t, plan, "kafka-kraft")
	wantKept := []reconciler.Orphan{{Object: "Secret/egov/" + oldSec, Adopted: true}, {Object: "Service/egov/" + oldSvc, Adopted: true}}
	sameOrphans := func(a, b reconciler.Orphan) bool {
		return a.Object == b.Object && a.Adopted == b.Adopted && a.Delete == b.Delete
	}
	if st.Action != reconciler.ActionUpgrade || !slices.EqualFunc(st.Orphans, wantKept, sameOrphans) {
		t.Fatalf("kafka-kraft without deployer names: %s (%s), orphans %+v; want an upgrade keeping %+v", st.Action, st.Reason, st.Orphans, wantKept)
	}
	if r := resultOf(t, res, "kafka-kraft"); r.Outcome != reconciler.OutcomeSucceeded {
		t.Fatalf("kafka-kraft upgrade: %s: %s", r.Outcome, r.Error)
	}
	for _, name := range []string{oldSvc, newSvc, "release-name-kafka-lookalike"} {
		if _, err := services.Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("Service %s after the upgrade with prune off: %v", name, err)
		}
	}
	for _, name := range []string{oldSec, newSec} {
		if _, err := secrets.Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("Secret %s after the upgrade with prune off: %v", name, err)
		}
	}
	// Kept orphans are listed by every later plan, which changes nothing.
	plan = planOnly(t, ctx, cluster, repo)
	if st := stepOf(t, plan, "kafka-kraft"); st.Action != reconciler.ActionNone || !slices.EqualFunc(st.Orphans, wantKept, sameOrphans) || plan.Summary().Changes() != 0 {
		t.Fatalf("kafka-kraft, unchanged with kept orphans: %s (%s), orphans %+v, %+v; want nothing to do and %+v listed", st.Action, st.Reason, st.Orphans, plan.Summary(), wantKept)
	}

	// Prune on: the unchanged release deletes its adopted orphans, and
	// nothing else.
	writeFiles(t, repo, map[string]string{"digitops.yaml": kafkaConfig("", ", prune: true")})
	plan, res = planAndApply(t, ctx, cluster, repo)
	st = stepOf(t, plan, "kafka-kraft")
	if st.Action != reconciler.ActionDeleteOrphans || len(st.Orphans) != 2 || !st.Orphans[0].Delete || !st.Orphans[1].Delete {
		t.Fatalf("kafka-kraft with prune on: %s (%s), orphans %+v; want its two adopted orphans deleted", st.Action, st.Reason, st.Orphans)
	}
	if s := plan.Summary(); s.DeleteOrphans != 1 || s.Changes() != 1 {
		t.Errorf("summary with prune on: %+v, want one release deleting orphans and nothing else", s)
	}
	if r := resultOf(t, res, "kafka-kraft"); r.Outcome != reconciler.OutcomeSucceeded {
		t.Fatalf("kafka-kraft delete-orphans: %s: %s", r.Outcome, r.Error)
	}
	if _, err := services.Get(ctx, oldSvc, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("adopted orphan Service %s after prune: %v, want it gone", oldSvc, err)
	}
	if _, err := secrets.Get(ctx, oldSec, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("adopted orphan Secret %s after prune: %v, want it gone", oldSec, err)
	}
	for _, name := range []string{newSvc, "release-name-kafka-lookalike", "egov-user"} {
		if _, err := services.Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("Service %s after prune: %v, want it kept", name, err)
		}
	}
	plan = planOnly(t, ctx, cluster, repo)
	if st := stepOf(t, plan, "kafka-kraft"); st.Action != reconciler.ActionNone || len(st.Orphans) != 0 || plan.Summary().Changes() != 0 {
		t.Errorf("after prune: kafka-kraft %s (%s), orphans %+v, %+v; want nothing left to do", st.Action, st.Reason, st.Orphans, plan.Summary())
	}
}

// A plan that installs many releases into one namespace lists each kind's
// names there once instead of reading every rendered object: only the
// objects that exist are read (and taken over), the others cost nothing.
func TestPlan_takeoverListsCrowdedKinds(t *testing.T) {
	ctx := context.Background()
	_, cluster := startCluster(t, false)
	const services, deployed = 20, 16
	var releases strings.Builder
	for i := range services {
		fmt.Fprintf(&releases, "      - {name: svc-%d, namespace: egov, chart: charts/svc, values: [{name: svc-%d}]}\n", i, i)
	}
	repo := takeoverRepo(t, ctx, cluster, takeoverChart, "environments:\n  - name: dev\n    layout: native\n    sync: {wait: false}\n    releases:\n"+releases.String())
	for i := range deployed {
		deployLikeTheGoDeployer(t, ctx, cluster, repo, fmt.Sprintf("svc-%d", i))
	}
	env, err := envloader.Environment(ctx, envloader.Options{RepoDir: repo}, "dev")
	if err != nil {
		t.Fatal(err)
	}
	planner, err := reconciler.NewPlanner(cluster, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	plan := func() *reconciler.Plan {
		t.Helper()
		plan, err := planner.Plan(ctx, env, kube.LiveState{}, reconciler.PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return plan
	}
	plan() // discovery, once
	before := cluster.Requests()
	p := plan()
	reqs := cluster.Requests().Since(before)
	adopted := 0
	for i := range services {
		st := stepOf(t, p, fmt.Sprintf("svc-%d", i))
		want := 0
		if i < deployed {
			want = 3
		}
		if st.Action != reconciler.ActionInstall || len(st.Adopt) != want {
			t.Errorf("svc-%d: %s (%s), adopt %v; want an install taking %d objects", i, st.Action, st.Reason, st.Adopt, want)
		}
		adopted += len(st.Adopt)
	}
	// One LIST per kind (Deployments, Services, ConfigMaps in egov), a GET
	// per object that exists: not one per rendered object. The counter
	// counts HTTP methods: a LIST is a GET.
	if reqs["GET"] != adopted+3 || reqs.Total() != reqs["GET"] {
		t.Errorf("plan requests %v; want %d GETs (3 LISTs, then the %d live objects), not a GET for each of the %d rendered objects", reqs, adopted+3, adopted, services*3)
	}
}

// A takeover whose install fails (never ready here: no controllers) keeps
// the objects it took: it is not uninstalled, and the next sync upgrades it.
func TestApply_failedTakeoverKeepsWhatItTook(t *testing.T) {
	ctx := context.Background()
	_, cluster := startCluster(t, false)
	repo := takeoverRepo(t, ctx, cluster, takeoverChart, `environments:
  - name: dev
    layout: native
    sync: {wait: true, timeout: 2s}
    releases:
      - {name: egov-user, namespace: egov, chart: charts/svc, values: [{name: egov-user}]}
`)
	deployLikeTheGoDeployer(t, ctx, cluster, repo, "egov-user")

	_, res := planAndApply(t, ctx, cluster, repo)
	if r := resultOf(t, res, "egov-user"); r.Outcome != reconciler.OutcomeFailed || !strings.Contains(r.Error, "not uninstalled") {
		t.Fatalf("egov-user: %s: %s; want a failure that keeps the release", r.Outcome, r.Error)
	}
	for _, get := range []func() error{
		func() error {
			_, err := cluster.Clientset.AppsV1().Deployments("egov").Get(ctx, "egov-user", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := cluster.Clientset.CoreV1().Services("egov").Get(ctx, "egov-user", metav1.GetOptions{})
			return err
		},
	} {
		if err := get(); err != nil {
			t.Errorf("an object the failed takeover took is gone: %v", err)
		}
	}
	plan := planOnly(t, ctx, cluster, repo)
	if st := stepOf(t, plan, "egov-user"); st.Action != reconciler.ActionUpgrade || !strings.Contains(st.Reason, "never uninstalled") {
		t.Errorf("after the failed takeover: %s: %s; want an upgrade in place", st.Action, st.Reason)
	}
}

// With controllers and kwok (Deployments become Ready, pods exist), a
// takeover replaces no pod: the same ReplicaSet and the same pods serve
// before and after, and the install waits for readiness like any other.
func TestApply_takeoverReplacesNoPod(t *testing.T) {
	_, cluster := startCluster(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	repo := takeoverRepo(t, ctx, cluster, takeoverChart, `environments:
  - name: dev
    layout: native
    sync: {wait: true, timeout: 2m}
    releases:
      - {name: egov-user, namespace: egov, chart: charts/svc, values: [{name: egov-user}]}
`)
	deployLikeTheGoDeployer(t, ctx, cluster, repo, "egov-user")
	serving := func() (replicaSets, pods []string) {
		rs, err := cluster.Clientset.AppsV1().ReplicaSets("egov").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs.Items {
			replicaSets = append(replicaSets, r.Name)
		}
		ps, err := cluster.Clientset.CoreV1().Pods("egov").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps.Items {
			if p.DeletionTimestamp == nil {
				pods = append(pods, p.Name)
			}
		}
		return replicaSets, pods
	}
	for {
		d, err := cluster.Clientset.AppsV1().Deployments("egov").Get(ctx, "egov-user", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, pods := serving(); reconciler.DeploymentReadiness(d).Ready && len(pods) == 1 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the Go deployer's Deployment never became ready")
		case <-time.After(200 * time.Millisecond):
		}
	}
	rsBefore, podsBefore := serving()
	time.Sleep(time.Second) // a render now stamps another second

	_, res := planAndApply(t, ctx, cluster, repo)
	if r := resultOf(t, res, "egov-user"); r.Outcome != reconciler.OutcomeSucceeded {
		t.Fatalf("egov-user: %s: %s", r.Outcome, r.Error)
	}
	time.Sleep(2 * time.Second) // what a rollout would start, it starts within this
	rsAfter, podsAfter := serving()
	if strings.Join(rsAfter, ",") != strings.Join(rsBefore, ",") || strings.Join(podsAfter, ",") != strings.Join(podsBefore, ",") {
		t.Errorf("the takeover replaced pods: ReplicaSets %v -> %v, pods %v -> %v", rsBefore, rsAfter, podsBefore, podsAfter)
	}
}
