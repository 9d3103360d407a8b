package reconciler_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/digitops/digitops/internal/testenv"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// installedDrift installs the drift fixture (4 releases in egov, warn mode)
// on a fresh control plane.
func installedDrift(t *testing.T, ctx context.Context) (*testenv.Env, *kube.Cluster, *manifest.Environment) {
	t.Helper()
	tenv := testenv.ForTest(t, testenv.Options{})
	cluster, err := kube.NewCluster(tenv.Config)
	if err != nil {
		t.Fatal(err)
	}
	env := driftEnv(t, ctx, driftRepo(t), manifest.DriftWarn)
	applyPlan(t, ctx, cluster, env, planDrift(t, ctx, cluster, env, false))
	return tenv, cluster, env
}

// warmDetector is an installed drift fixture and a detector that has
// checked it once (and found no drift).
type warmDetector struct {
	ctx     context.Context
	cs      kubernetes.Interface
	cluster *kube.Cluster
	env     *manifest.Environment
	d       *drift.Detector
}

func newWarmDetector(t *testing.T) warmDetector {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	tenv, cluster, env := installedDrift(t, ctx)
	d, err := drift.NewDetector(cluster)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	w := warmDetector{ctx: ctx, cs: kubernetes.NewForConfigOrDie(tenv.Config), cluster: cluster, env: env, d: d}
	if got := w.detect(t); len(got) != 0 {
		t.Fatalf("drift right after install: %v", got)
	}
	return w
}

// detect checks every release and returns the drift by release.
func (w warmDetector) detect(t *testing.T) map[string][]drift.Item {
	t.Helper()
	live, err := kube.ReadLiveState(w.ctx, w.cluster)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]drift.Item{}
	for _, spec := range w.env.Releases {
		l, ok := live[spec.Namespace+"/"+spec.Name]
		if !ok {
			t.Fatalf("release %s not installed", spec.Name)
		}
		items, err := w.d.Detect(w.ctx, spec, &l, w.env.Policy)
		if err != nil {
			t.Fatalf("detect %s: %v", spec.Name, err)
		}
		if len(items) > 0 {
			out[spec.Name] = items
		}
	}
	return out
}

// A reused detector reads live objects from its watches: after warm-up an
// unchanged cluster costs no request, an edit arrives through the watch, and
// a deleted object is found.
func TestDriftCache_reusedDetector(t *testing.T) {
	w := newWarmDetector(t)
	ctx, cs, d := w.ctx, w.cs, w.d
	warm := d.Requests()
	if warm == 0 {
		t.Fatal("the warm-up made no request")
	}

	// (a) Nothing changed: no request at all.
	if got := w.detect(t); len(got) != 0 {
		t.Fatalf("drift on an unchanged cluster: %v", got)
	}
	if n := d.Requests() - warm; n != 0 {
		t.Errorf("a warm detector made %d requests on an unchanged cluster, want 0", n)
	}

	// (b) An edit under another field manager arrives through the watch.
	deps := cs.AppsV1().Deployments("egov")
	dep, err := deps.Get(ctx, "egov-user", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dep.Spec.Template.Spec.Containers[0].Image = "egovio/egov-user:hotfix"
	if _, err := deps.Update(ctx, dep, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	var found drift.Item
	for deadline := time.Now().Add(15 * time.Second); found.Kind == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, it := range w.detect(t)["egov-user"] {
			if strings.HasSuffix(it.Path, "/image") {
				found = it
			}
		}
	}
	if found.Kind != drift.Changed || found.After != "egovio/egov-user:hotfix" || found.Manager != "kubectl-edit" {
		t.Errorf("edited image: drift item %+v, want changed to the hotfix by kubectl-edit", found)
	}

	// (c) A deleted object is found.
	if err := cs.CoreV1().ConfigMaps("egov").Delete(ctx, "egov-config", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got := w.detect(t)["egov-config"]
	if len(got) != 1 || got[0].Kind != drift.Deleted || got[0].Object != "ConfigMap/egov/egov-config" {
		t.Errorf("deleted ConfigMap: drift %v, want ConfigMap/egov/egov-config deleted", got)
	}
}

// A cached copy that shows drift the live object does not have (a watch
// lagging behind) is confirmed with a GET, and no drift is reported.
func TestDriftCache_staleCopyConfirmed(t *testing.T) {
	w := newWarmDetector(t)
	ctx, cs, d := w.ctx, w.cs, w.d

	// The stale copy still carries a label kubectl-label added and a
	// correction has since removed.
	stale := 0
	drift.InjectStaleCache(d, func(u *unstructured.Unstructured) {
		if u.GetKind() != "Deployment" {
			return
		}
		labels := u.GetLabels()
		labels["team"] = "hotfixers"
		u.SetLabels(labels)
		u.SetManagedFields(append(u.GetManagedFields(), metav1.ManagedFieldsEntry{
			Manager: "kubectl-label", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "apps/v1", FieldsType: "FieldsV1",
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{"f:team":{}}}}`)},
		}))
		stale++
	})
	before := d.Requests()
	if got := w.detect(t); len(got) != 0 {
		t.Errorf("a stale cached copy was reported as drift: %v", got)
	}
	if stale == 0 {
		t.Fatal("no cached Deployment was read")
	}
	if n := d.Requests() - before; n != int64(stale) {
		t.Errorf("%d requests for %d stale copies, want one confirming GET each", n, stale)
	}

	// The same change made for real is drift: the stale copies were drift
	// too, and only the confirming GET kept them out.
	patch := []byte(`{"metadata":{"labels":{"team":"hotfixers"}}}`)
	if _, err := cs.AppsV1().Deployments("egov").Patch(ctx, "egov-user", types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-label"}); err != nil {
		t.Fatal(err)
	}
	got := w.detect(t)
	if len(got) != 1 || len(got["egov-user"]) != 1 || got["egov-user"][0].Path != "/metadata/labels/team" || got["egov-user"][0].Manager != "kubectl-label" {
		t.Errorf("the label added for real: drift %v, want egov-user /metadata/labels/team by kubectl-label", got)
	}
}

// The manifest-only decode of a storage Secret, by GET and by LIST, equals
// what Helm's own storage driver decodes.
func TestStorage_manifestEqualsHelm(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	tenv, cluster, env := installedDrift(t, ctx)
	secrets := kubernetes.NewForConfigOrDie(tenv.Config).CoreV1().Secrets("egov")
	live, err := kube.ReadLiveState(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for _, spec := range env.Releases {
		want[spec.Name] = live[spec.Namespace+"/"+spec.Name].Version
	}
	listed, err := kube.ListStoredManifests(ctx, secrets, want)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != len(want) {
		t.Errorf("LIST decoded %d manifests, want %d", len(listed), len(want))
	}
	for name, version := range want {
		rel, err := reconciler.ActionConfigForTest(cluster, "egov").Releases.Get(name, version)
		if err != nil {
			t.Fatal(err)
		}
		if rel.Manifest == "" {
			t.Fatalf("%s: Helm decoded an empty manifest", name)
		}
		got, err := kube.ReadStoredManifest(ctx, secrets, name, version)
		if err != nil {
			t.Fatal(err)
		}
		if got != rel.Manifest {
			t.Errorf("%s: GET decoded manifest differs from Helm's:\n%s\n--- Helm:\n%s", name, got, rel.Manifest)
		}
		if listed[name] != rel.Manifest {
			t.Errorf("%s: LIST decoded manifest differs from Helm's", name)
		}
	}
}
