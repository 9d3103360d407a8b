package reconciler_test

import (
	"context"
	"strings"
	"testing"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
	envloader "github.com/digitops/digitops/source/manifest/loader"
)

// removedAPIsRepo has a chart on API versions Kubernetes removed (DIGIT's
// older charts: policy/v1beta1 PDB, extensions/v1beta1 Ingress) and one
// that picks its CronJob's version by the cluster's capabilities, as
// DIGIT's common chart does.
var removedAPIsRepo = map[string]string{
	"digitops.yaml": `environments:
  - name: dev
    layout: native
    releases:
      - {name: kafka, namespace: egov, chart: charts/kafka}
      - {name: jobs, namespace: egov, chart: charts/jobs}
      - {name: user, namespace: egov, chart: charts/jobs, needs: [kafka]}
`,
	"charts/kafka/Chart.yaml": "apiVersion: v2\nname: kafka\nversion: 0.1.0\n",
	"charts/kafka/templates/pdb.yaml": `apiVersion: policy/v1beta1
kind: PodDisruptionBudget
metadata: {name: kafka}
spec: {maxUnavailable: 1, selector: {matchLabels: {app: kafka}}}
---
apiVersion: extensions/v1beta1
kind: Ingress
metadata: {name: kafka}
spec: {backend: {serviceName: kafka, servicePort: 9092}}
---
apiVersion: rbac.authorization.k8s.io/v1beta1
kind: ClusterRole
metadata: {name: kafka-reader}
rules: []
`,
	"charts/jobs/Chart.yaml": "apiVersion: v2\nname: jobs\nversion: 0.1.0\n",
	"charts/jobs/templates/cron.yaml": `{{- if .Capabilities.APIVersions.Has "batch/v1beta1" }}
apiVersion: batch/v1beta1
{{- else }}
apiVersion: batch/v1
{{- end }}
kind: CronJob
metadata: {name: {{ .Release.Name }}}
spec: {schedule: "0 * * * *", jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}}}
`,
}

// planRemovedAPIs plans removedAPIsRepo with planner against live and
// returns the steps' "action: reason" by release.
func planRemovedAPIs(t *testing.T, ctx context.Context, planner *reconciler.Planner, repo string) map[string]string {
	t.Helper()
	env, err := envloader.Environment(ctx, envloader.Options{RepoDir: repo}, "dev")
	if err != nil {
		t.Fatal(err)
	}
	live := kube.LiveState{}
	if planner.Cluster != nil {
		if live, err = kube.ReadLiveState(ctx, planner.Cluster); err != nil {
			t.Fatal(err)
		}
	}
	plan, err := planner.Plan(ctx, env, live, reconciler.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, st := range plan.Steps {
		out[st.Release.Name] = string(st.Action) + ": " + st.Reason
	}
	return out
}

// Offline, a plan knows the Kubernetes version it renders for: an object
// on an API version that version no longer serves is an error step naming
// it and the version to use, and a chart that picks its versions by the
// capabilities picks as on a cluster of that version.
func TestPlan_removedAPIVersionsOffline(t *testing.T) {
	ctx := context.Background()
	repo := t.TempDir()
	writeFiles(t, repo, removedAPIsRepo)
	planner, err := reconciler.NewPlanner(nil, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	got := planRemovedAPIs(t, ctx, planner, repo)
	want := map[string]string{
		"kafka": `error: release "kafka" renders API versions Kubernetes ` + reconciler.DefaultKubeVersion() + ` does not serve: ` +
			`PodDisruptionBudget egov/kafka uses policy/v1beta1 (removed in v1.25): use policy/v1; ` +
			`ClusterRole/kafka-reader uses rbac.authorization.k8s.io/v1beta1 (removed in v1.22): use rbac.authorization.k8s.io/v1; ` +
			`Ingress egov/kafka uses extensions/v1beta1 (removed in v1.22): use networking.k8s.io/v1`,
		"jobs": "install: not installed",
		"user": `blocked: needs "kafka", which is in error (would install: not installed)`,
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s:\n got %s\nwant %s", name, got[name], w)
		}
	}

	// For Kubernetes 1.24, which served all three, nothing is refused
	// (and the CronJob chart picks batch/v1beta1, which 1.24 serves).
	planner.KubeVersion = "v1.24.0"
	got = planRemovedAPIs(t, ctx, planner, repo)
	if !strings.HasPrefix(got["kafka"], "error: ") || strings.Contains(got["kafka"], "policy/v1beta1") {
		t.Errorf("kafka for v1.24: %s, want only the v1.22 removals", got["kafka"])
	}
	if got["jobs"] != "install: not installed" {
		t.Errorf("jobs for v1.24: %s", got["jobs"])
	}
}

// Online, the cluster's discovery decides: the control plane (Kubernetes
// 1.37) serves none of kafka's versions.
func TestPlan_removedAPIVersionsOnline(t *testing.T) {
	ctx := context.Background()
	_, cluster := startCluster(t, false)
	repo := t.TempDir()
	writeFiles(t, repo, removedAPIsRepo)
	planner, err := reconciler.NewPlanner(cluster, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	got := planRemovedAPIs(t, ctx, planner, repo)
	for _, want := range []string{"PodDisruptionBudget egov/kafka uses policy/v1beta1 (removed in v1.25): use policy/v1", "Ingress egov/kafka uses extensions/v1beta1 (removed in v1.22): use networking.k8s.io/v1", "ClusterRole/kafka-reader uses rbac.authorization.k8s.io/v1beta1"} {
		if !strings.Contains(got["kafka"], want) {
			t.Errorf("kafka: %s\nwant it to say %q", got["kafka"], want)
		}
	}
	if got["jobs"] != "install: not installed" {
		t.Errorf("jobs: %s, want an install (the chart picks batch/v1 from the cluster's versions)", got["jobs"])
	}
}
