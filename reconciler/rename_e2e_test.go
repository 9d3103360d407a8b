package reconciler_test

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
)

// renameConfig is an environment of two services that adopts from Helm
// releases and prunes, with egov-user's release named name (its objects
// are named from the values, so they keep their names).
func renameConfig(name string) string {
	return `environments:
  - name: dev
    layout: native
    sync: {wait: false, prune: true, adopt: helm-releases, maxPrunePercent: 100}
    releases:
      - {name: ` + name + `, namespace: egov, chart: charts/svc, values: [{name: egov-user}]}
      - {name: pgr-services, namespace: egov, chart: charts/svc, values: [{name: pgr-services}]}
`
}

// egovUserUIDs returns the UIDs of egov-user's objects, by kind.
func egovUserUIDs(t *testing.T, ctx context.Context, cluster *kube.Cluster) map[string]types.UID {
	t.Helper()
	out := map[string]types.UID{}
	d, err := cluster.Clientset.AppsV1().Deployments("egov").Get(ctx, "egov-user", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out["Deployment"] = d.UID
	s, err := cluster.Clientset.CoreV1().Services("egov").Get(ctx, "egov-user", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out["Service"] = s.UID
	c, err := cluster.Clientset.CoreV1().ConfigMaps("egov").Get(ctx, "egov-user", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out["ConfigMap"] = c.UID
	return out
}

// installedBeforeRename syncs renameConfig("egov-user") into a new control
// plane and returns it, the repository and the UIDs of egov-user's objects.
func installedBeforeRename(t *testing.T, ctx context.Context) (*kube.Cluster, string, map[string]types.UID) {
	t.Helper()
	_, cluster := startCluster(t, false)
	repo := takeoverRepo(t, ctx, cluster, takeoverChart, renameConfig("egov-user"))
	if _, res := planAndApply(t, ctx, cluster, repo); len(res.Failed()) > 0 {
		t.Fatalf("first sync: %+v", res.Releases)
	}
	return cluster, repo, egovUserUIDs(t, ctx, cluster)
}

// A release renamed in Git, with sync.adopt: helm-releases and prune: the
// new release takes the old one's objects before the old one is
// uninstalled, and the uninstall leaves them: no object is deleted and
// created again (same UIDs, so no pod replaced and no volume lost).
func TestApply_renamedReleaseKeepsItsObjects(t *testing.T) {
	ctx := context.Background()
	cluster, repo, before := installedBeforeRename(t, ctx)

	writeFiles(t, repo, map[string]string{"digitops.yaml": renameConfig("user")})
	plan, res := planAndApply(t, ctx, cluster, repo)
	install, uninstall := stepOf(t, plan, "user"), stepOf(t, plan, "egov-user")
	if install.Action != reconciler.ActionInstall || len(install.Adopt) != 3 {
		t.Fatalf("user: %s (%s), adopts %v; want an install taking egov-user's 3 objects", install.Action, install.Reason, install.Adopt)
	}
	if uninstall.Action != reconciler.ActionUninstall || len(uninstall.HandsOver) != 3 || !strings.Contains(uninstall.Reason, "leaves 3 object(s) to user") {
		t.Fatalf("egov-user: %s (%s), hands over %v; want an uninstall leaving 3 objects to user", uninstall.Action, uninstall.Reason, uninstall.HandsOver)
	}
	for _, name := range []string{"user", "egov-user"} {
		if r := resultOf(t, res, name); r.Outcome != reconciler.OutcomeSucceeded {
			t.Fatalf("%s: %s: %s", name, r.Outcome, r.Error)
		}
	}
	if u, e := resultOf(t, res, "user"), resultOf(t, res, "egov-user"); e.Started.Before(u.Started.Add(u.Duration)) {
		t.Errorf("the uninstall started at %s, before the install ended (%s)", e.Started, u.Started.Add(u.Duration))
	}
	after := egovUserUIDs(t, ctx, cluster)
	for kind, uid := range before {
		if after[kind] != uid {
			t.Errorf("%s egov-user was deleted and created again (UID %s -> %s)", kind, uid, after[kind])
		}
	}
	d, err := cluster.Clientset.AppsV1().Deployments("egov").Get(ctx, "egov-user", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if owner := d.Annotations["meta.helm.sh/release-name"]; owner != "user" {
		t.Errorf("Deployment egov-user belongs to release %q, want user", owner)
	}
	if revs := revisions(t, ctx, cluster); revs["egov-user"] != 0 || revs["user"] != 1 {
		t.Errorf("revisions after the rename = %v, want egov-user gone and user at 1", revs)
	}
	plan, _ = planAndApply(t, ctx, cluster, repo)
	if s := plan.Summary(); s.Changes() != 0 {
		t.Errorf("after the rename: %+v, want nothing to do", s)
	}
}

// When the install that takes the objects fails, the old release is not
// uninstalled: its objects stay where they are.
func TestApply_renameThatFailsUninstallsNothing(t *testing.T) {
	ctx := context.Background()
	cluster, repo, before := installedBeforeRename(t, ctx)

	// The renamed release also renders an object the API server refuses.
	writeFiles(t, repo, map[string]string{
		"digitops.yaml": renameConfig("user"),
		"charts/svc/templates/bad.yaml": `{{- if eq .Release.Name "user" }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: Not_A_Valid_Name
  namespace: {{ .Release.Namespace }}
{{- end }}
`,
	})
	_, res := planAndApply(t, ctx, cluster, repo)
	if r := resultOf(t, res, "user"); r.Outcome != reconciler.OutcomeFailed {
		t.Fatalf("user: %s, want the install to fail", r.Outcome)
	}
	if r := resultOf(t, res, "egov-user"); r.Outcome != reconciler.OutcomeSkipped || !strings.Contains(r.Error, `"user" did not succeed`) {
		t.Errorf("egov-user: %s (%s), want its uninstall skipped", r.Outcome, r.Error)
	}
	after := egovUserUIDs(t, ctx, cluster)
	for kind, uid := range before {
		if after[kind] != uid {
			t.Errorf("%s egov-user was deleted and created again (UID %s -> %s)", kind, uid, after[kind])
		}
	}
	if revs := revisions(t, ctx, cluster); revs["egov-user"] != 1 {
		t.Errorf("revisions = %v, want egov-user still installed", revs)
	}
}
