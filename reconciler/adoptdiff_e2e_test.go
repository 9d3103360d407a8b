package reconciler_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/digitops/digitops/internal/diff"
	"github.com/digitops/digitops/reconciler"
)

// The diff of a takeover install is against the live objects it takes: a
// Deployment scaled by hand shows the scale the install puts back, and
// the objects the install leaves as they are show nothing (not the whole
// render as added).
func TestPlan_takeoverDiffIsAgainstTheLiveObjects(t *testing.T) {
	ctx := context.Background()
	_, cluster := startCluster(t, false)
	repo := takeoverRepo(t, ctx, cluster, takeoverChart, "")
	deployLikeTheGoDeployer(t, ctx, cluster, repo, "egov-user")
	if _, err := cluster.Clientset.AppsV1().Deployments("egov").Patch(ctx, "egov-user", types.MergePatchType, []byte(`{"spec":{"replicas":2}}`), metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // a render now stamps another second

	plan := planOnly(t, ctx, cluster, repo)
	user := stepOf(t, plan, "egov-user")
	if user.Action != reconciler.ActionInstall || len(user.Adopt) != 3 {
		t.Fatalf("egov-user: %s (%s), adopt %v; want an install taking over 3 objects", user.Action, user.Reason, user.Adopt)
	}
	m, err := reconciler.RenderStep(ctx, cluster, "", &user)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := diff.Manifests(m.Old, m.New, diff.Options{Secrets: m.Secrets})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].Key.Kind != "Deployment" || objs[0].Change != diff.Changed {
		var got []string
		for _, o := range objs {
			got = append(got, string(o.Change)+" "+o.Key.String())
		}
		t.Fatalf("takeover diff = %v, want only the Deployment, changed", got)
	}
	var changed []string
	for _, l := range objs[0].Lines {
		if l.Op == diff.Insert || l.Op == diff.Delete {
			changed = append(changed, l.String())
		}
	}
	if got := strings.Join(changed, "\n"); got != "-   replicas: 2\n+   replicas: 1" {
		t.Errorf("the Deployment's changed lines:\n%s\nwant the replicas put back from 2 to 1 and nothing else", got)
	}
}
