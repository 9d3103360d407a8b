package reconciler_test

import (
	"context"
	"encoding/json"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/source/manifest"
)

// dupEnvChart is a Deployment whose env list names a variable twice, as
// DIGIT's environment files make some services' lists.
var dupEnvChart = map[string]string{
	"digitops.yaml":         "environments:\n  - name: dev\n    layout: native\n    sync: {wait: false, drift: correct}\n    releases:\n      - {name: svc, namespace: egov, chart: charts/svc}\n",
	"charts/svc/Chart.yaml": "apiVersion: v2\nname: svc\nversion: 0.1.0\n",
	"charts/svc/templates/d.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: svc, namespace: egov}
spec:
  replicas: 1
  selector: {matchLabels: {app: svc}}
  template:
    metadata: {labels: {app: svc}}
    spec:
      containers:
        - name: app
          image: egovio/svc:v1
          env:
            - {name: A, value: "1"}
            - {name: B, value: "b"}
            - {name: A, value: "2"}
`,
}

// Duplicate-named env entries swapped by hand are drift the plan reports,
// and the correction puts the list back in the deployed order.
func TestDrift_duplicateEnvEntriesReordered(t *testing.T) {
	ctx := context.Background()
	_, cluster := startCluster(t, false)
	repo := takeoverRepo(t, ctx, cluster, dupEnvChart, "")
	if _, res := planAndApply(t, ctx, cluster, repo); len(res.Failed()) > 0 {
		t.Fatalf("install: %+v", res.Failed())
	}
	envOf := func() string {
		d, err := cluster.Clientset.AppsV1().Deployments("egov").Get(ctx, "svc", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(d.Spec.Template.Spec.Containers[0].Env)
		return string(b)
	}
	deployed := envOf()
	swap := `[{"op":"replace","path":"/spec/template/spec/containers/0/env","value":[{"name":"A","value":"2"},{"name":"B","value":"b"},{"name":"A","value":"1"}]}]`
	if _, err := cluster.Clientset.AppsV1().Deployments("egov").Patch(ctx, "svc", types.JSONPatchType, []byte(swap), metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}

	env := driftEnv(t, ctx, repo, manifest.DriftCorrect)
	plan := planDrift(t, ctx, cluster, env, true)
	st := stepOf(t, plan, "svc")
	if st.Action != reconciler.ActionCorrectDrift || len(st.Drift) != 1 || st.Drift[0].Path != "/spec/template/spec/containers/name=app/env" {
		t.Fatalf("svc: %s (%s), drift %v; want the env list reported and corrected", st.Action, st.Reason, st.Drift)
	}
	res := (&reconciler.Applier{Cluster: cluster}).Apply(ctx, env, plan)
	if r := resultOf(t, res, "svc"); r.Outcome != reconciler.OutcomeSucceeded {
		t.Fatalf("correction: %s %s", r.Outcome, r.Error)
	}
	if got := envOf(); got != deployed {
		t.Errorf("env after the correction = %s, want the deployed order %s", got, deployed)
	}
	if plan = planDrift(t, ctx, cluster, env, true); stepOf(t, plan, "svc").Action != reconciler.ActionNone {
		t.Errorf("after the correction: %s, want nothing to do", stepOf(t, plan, "svc").Action)
	}
}
