package reconciler_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/digitops/digitops/reconciler"
)

// onDeleteRepo is a StatefulSet shaped like DIGIT's kafka (updateStrategy
// OnDelete, a volume claim) whose claim no storage class binds, so its pod
// never runs, and a service that needs it.
var onDeleteRepo = map[string]string{
	"digitops.yaml": `environments:
  - name: dev
    layout: native
    sync: {timeout: 8s}
    releases:
      - {name: kafka, namespace: egov, chart: charts/kafka}
      - {name: svc, namespace: egov, chart: charts/svc, values: [{name: svc}], needs: [kafka]}
`,
	"charts/kafka/Chart.yaml": "apiVersion: v2\nname: kafka\nversion: 0.1.0\n",
	"charts/kafka/templates/sts.yaml": `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: kafka, namespace: egov}
spec:
  serviceName: kafka
  replicas: 1
  updateStrategy: {type: OnDelete}
  selector: {matchLabels: {app: kafka}}
  template:
    metadata: {labels: {app: kafka}}
    spec:
      containers: [{name: kafka, image: egovio/kafka:1, volumeMounts: [{name: data, mountPath: /data}]}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec: {accessModes: [ReadWriteOnce], storageClassName: no-such-class, resources: {requests: {storage: 1Gi}}}
`,
}

// A StatefulSet with updateStrategy OnDelete whose pods never get ready
// (all four of DIGIT's are OnDelete) is not ready: what needs it waits,
// and is skipped when it times out.
func TestApply_onDeleteStatefulSetHoldsItsDependants(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, cluster := startCluster(t, true)
	files := map[string]string{}
	for k, v := range takeoverChart {
		if strings.HasPrefix(k, "charts/") {
			files[k] = v
		}
	}
	for k, v := range onDeleteRepo {
		files[k] = v
	}
	repo := takeoverRepo(t, ctx, cluster, files, "")
	_, res := syncRun{Repo: repo}.mustRun(t, ctx, cluster)
	k := resultOf(t, res, "kafka")
	if k.Outcome != reconciler.OutcomeFailed || !strings.Contains(k.Error, "0 of 1 replicas ready") {
		t.Errorf("kafka: %s %q, want failed waiting for its replica", k.Outcome, k.Error)
	}
	if s := resultOf(t, res, "svc"); s.Outcome != reconciler.OutcomeSkipped || !strings.Contains(s.Error, `"kafka" did not succeed`) {
		t.Errorf("svc: %s %q, want skipped: kafka is not ready", s.Outcome, s.Error)
	}
}

// Kinds digitops has no rule of its own for are waited on as kstatus
// computes them: a claim that never binds holds what needs it.
func TestApply_unboundClaimHoldsItsDependants(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, cluster := startCluster(t, false)
	files := map[string]string{
		"digitops.yaml": `environments:
  - name: dev
    layout: native
    sync: {timeout: 5s}
    releases:
      - {name: claim, namespace: egov, chart: charts/claim}
      - {name: user, namespace: egov, chart: charts/user, needs: [claim]}
`,
		"charts/claim/Chart.yaml":         "apiVersion: v2\nname: claim\nversion: 0.1.0\n",
		"charts/claim/templates/pvc.yaml": "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: egov}\nspec: {accessModes: [ReadWriteOnce], storageClassName: no-such-class, resources: {requests: {storage: 1Gi}}}\n",
		"charts/user/Chart.yaml":          "apiVersion: v2\nname: user\nversion: 0.1.0\n",
		"charts/user/templates/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: user, namespace: egov}\n",
	}
	repo := takeoverRepo(t, ctx, cluster, files, "")
	_, res := syncRun{Repo: repo}.mustRun(t, ctx, cluster)
	if c := resultOf(t, res, "claim"); c.Outcome != reconciler.OutcomeFailed || !strings.Contains(c.Error, "PersistentVolumeClaim/egov/data") {
		t.Errorf("claim: %s %q, want failed waiting for its claim", c.Outcome, c.Error)
	}
	if u := resultOf(t, res, "user"); u.Outcome != reconciler.OutcomeSkipped {
		t.Errorf("user: %s %q, want skipped: its need is not ready", u.Outcome, u.Error)
	}
}
