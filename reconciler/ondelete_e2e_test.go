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
