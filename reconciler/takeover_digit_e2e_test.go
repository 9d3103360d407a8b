package reconciler_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/loader"
)

// TestSync_takesOverADigitEnvironment: the examples/digit environment
// (cluster-configs, then five services, the cache a StatefulSet named after
// .Release.Name), deployed the Go deployer's way (every chart rendered with
// no release name and each object created by kubectl), is taken over by one
// sync with releaseName: deployer: one Helm release per chart, every object
// keeps its name, no workload's spec changes (so no pod is replaced), and
// the next sync writes nothing.
func TestSync_takesOverADigitEnvironment(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	_, cluster := startCluster(t, false)
	repo := t.TempDir()
	copyTree(t, "../examples/digit", repo)
	cfgPath := filepath.Join(repo, "digitops.yaml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	const demoSync = "    sync: {interval: 1m, prune: true, drift: correct}\n"
	if !strings.Contains(string(cfg), demoSync) {
		t.Fatalf("examples/digit/digitops.yaml no longer has %q", demoSync)
	}
	withDeployerNames := strings.Replace(string(cfg), demoSync, "    releaseName: deployer\n    sync: {interval: 1m, prune: true, drift: correct, wait: false}\n", 1)
	if err := os.WriteFile(cfgPath, []byte(withDeployerNames), 0o644); err != nil {
		t.Fatal(err)
	}
	// The real common chart stamps every render on the pod template: a
	// takeover must keep the live stamp, or every pod restarts.
	stampDeployments(t, repo)
	env, err := loader.Environment(ctx, loader.Options{RepoDir: repo}, "demo")
	if err != nil {
		t.Fatal(err)
	}
	deployEnvironmentLikeTheGoDeployer(t, ctx, cluster, env)
	workloads := liveWorkloads(t, ctx, cluster)
	if len(workloads) < 4 {
		t.Fatalf("the deployer's way deployed %d workloads (%v), want the example's services", len(workloads), workloads)
	}
	if _, ok := workloads["StatefulSet/backbone/release-name"]; !ok {
		t.Fatalf("the cache chart's StatefulSet is not named after release-name: %v", keys(workloads))
	}
	time.Sleep(time.Second) // a render now stamps another deployment-timestamp

	planner, err := reconciler.NewPlanner(cluster, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(planner.Drift.Close)
	syncer := &reconciler.Syncer{Planner: planner, Cluster: cluster}
	synced, err := syncer.Sync(ctx, env, reconciler.SyncOptions{Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	adopted := 0
	for _, st := range synced.Plan.Steps {
		if st.Action != reconciler.ActionInstall {
			t.Errorf("%s: %s (%s), want an install that takes its objects over", st.Release.Name, st.Action, st.Reason)
		}
		adopted += len(st.Adopt)
	}
	if adopted < len(workloads) {
		t.Errorf("the plan takes %d objects over, fewer than the %d workloads", adopted, len(workloads))
	}
	if synced.Result == nil {
		t.Fatal("nothing was applied")
	}
	for _, r := range synced.Result.Releases {
		if r.Outcome != reconciler.OutcomeSucceeded {
			t.Errorf("%s: %s: %s", r.Name, r.Outcome, r.Error)
		}
	}
	owned := 0
	for _, l := range synced.Live {
		if l.Environment == "demo" && l.Status == "deployed" {
			owned++
		}
	}
	if owned != len(env.Releases) {
		t.Errorf("%d deployed releases owned by demo, want one per chart (%d)", owned, len(env.Releases))
	}
	after := liveWorkloads(t, ctx, cluster)
	for name, spec := range workloads {
		got, ok := after[name]
		if !ok {
			t.Errorf("%s is gone after the takeover", name)
			continue
		}
		if !equality.Semantic.DeepEqual(got.spec, spec.spec) {
			b1, _ := json.Marshal(spec.spec)
			b2, _ := json.Marshal(got.spec)
			t.Errorf("the takeover changed %s's spec (its pods would be replaced):\nbefore %s\nafter  %s", name, b1, b2)
		}
		if got.owner == "" {
			t.Errorf("%s has no Helm owner after the takeover", name)
		}
	}
	if len(after) != len(workloads) {
		t.Errorf("%d workloads after the takeover, %d before: %v", len(after), len(workloads), keys(after))
	}

	// The next sync finds everything in sync and writes nothing.
	before := cluster.Requests()
	again, err := syncer.Sync(ctx, env, reconciler.SyncOptions{Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if s := again.Plan.Summary(); s.Changes() != 0 || again.Result != nil {
		for _, st := range again.Plan.Steps {
			if st.Action != reconciler.ActionNone {
				t.Errorf("second sync: %s: %s (%s) %v", st.Release.Name, st.Action, st.Reason, st.Drift)
			}
		}
	}
	if w := cluster.Requests().Since(before).Writes(); w != 0 {
		t.Errorf("the second sync made %d writes, want 0 (%s)", w, cluster.Requests().Since(before))
	}
}

// deployEnvironmentLikeTheGoDeployer renders every release of env with no
// release name (the Go deployer's `helm template`) and creates each object
// as `kubectl apply` would, namespaces first.
func deployEnvironmentLikeTheGoDeployer(t *testing.T, ctx context.Context, cluster *kube.Cluster, env *manifest.Environment) {
	t.Helper()
	var all []*unstructured.Unstructured
	for _, spec := range env.Releases {
		if spec.TemplateName != manifest.DeployerReleaseName {
			t.Fatalf("release %s renders as %q, want the deployer's %q", spec.Name, spec.TemplateName, manifest.DeployerReleaseName)
		}
		c, err := (reconciler.LocalCharts{}).Load(ctx, spec.Chart)
		if err != nil {
			t.Fatal(err)
		}
		m, err := reconciler.Render(ctx, spec, c, reconciler.RenderOptions{})
		if err != nil {
			t.Fatalf("render %s: %v", spec.Name, err)
		}
		objs, err := kube.Objects(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if o.GetNamespace() == "" && o.GetKind() != "Namespace" {
				o.SetNamespace(spec.Namespace)
			}
			all = append(all, o)
		}
	}
	create := func(o *unstructured.Unstructured) {
		gvk := o.GroupVersionKind()
		m, err := cluster.Mapper().RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("%s: %v", kube.Ref(o), err)
		}
		ri := cluster.Dynamic.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			o.SetNamespace(o.GetNamespace())
			_, err = ri.Namespace(o.GetNamespace()).Create(ctx, o, metav1.CreateOptions{FieldManager: "kubectl-client-side-apply"})
		} else {
			o.SetNamespace("")
			_, err = ri.Create(ctx, o, metav1.CreateOptions{FieldManager: "kubectl-client-side-apply"})
		}
		if err != nil {
			t.Fatalf("create %s: %v", kube.Ref(o), err)
		}
	}
	for _, o := range all {
		if o.GetKind() == "Namespace" {
			create(o)
		}
	}
	// The namespaces cluster-configs does not create, an operator did
	// (kubectl create namespace).
	for _, o := range all {
		if ns := o.GetNamespace(); ns != "" && o.GetKind() != "Namespace" {
			_, err := cluster.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{FieldManager: "kubectl-create"})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
		}
	}
	for _, o := range all {
		if o.GetKind() != "Namespace" {
			create(o)
		}
	}
}

// workload is a live Deployment's or StatefulSet's spec and Helm owner.
type workload struct {
	spec  any
	owner string
}

// liveWorkloads returns every Deployment and StatefulSet outside the
// system namespaces, by Kind/namespace/name.
func liveWorkloads(t *testing.T, ctx context.Context, cluster *kube.Cluster) map[string]workload {
	t.Helper()
	out := map[string]workload{}
	deps, err := cluster.Clientset.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deps.Items {
		out["Deployment/"+d.Namespace+"/"+d.Name] = workload{spec: d.Spec, owner: d.Annotations[kube.HelmReleaseNameAnnotation]}
	}
	sts, err := cluster.Clientset.AppsV1().StatefulSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sts.Items {
		out["StatefulSet/"+s.Namespace+"/"+s.Name] = workload{spec: s.Spec, owner: s.Annotations[kube.HelmReleaseNameAnnotation]}
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
