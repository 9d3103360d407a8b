package reconciler_test

import (
	"context"
	"strings"
	"testing"

	"github.com/digitops/digitops/policy"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
	envloader "github.com/digitops/digitops/source/manifest/loader"
)

// policyRepo is an environment whose releases try every way out of the
// operator's policy, beside ones that stay inside it.
var policyRepo = map[string]string{
	"digitops.yaml": `environments:
  - name: dev
    layout: native
    releases:
      - {name: egov-config, namespace: egov, chart: charts/config}
      - {name: rbac, namespace: egov, chart: charts/rbac}
      - {name: user, namespace: egov, chart: charts/config, needs: [rbac]}
      - {name: sys, namespace: kube-system, chart: charts/config}
      - {name: reader, namespace: egov, chart: charts/reader}
      - {name: hooked, namespace: egov, chart: charts/hooked}
      - {name: widget, namespace: egov, chart: charts/widget}
      - {name: crd, namespace: egov, chart: charts/crd}
`,
	"charts/config/Chart.yaml": "apiVersion: v2\nname: config\nversion: 0.1.0\n",
	"charts/config/templates/all.yaml": `apiVersion: v1
kind: Namespace
metadata: {name: {{ .Release.Namespace }}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: {{ .Release.Name }}}
data: {a: b}
`,
	"charts/rbac/Chart.yaml": "apiVersion: v2\nname: rbac\nversion: 0.1.0\n",
	"charts/rbac/templates/crb.yaml": `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: admin-all}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: default, namespace: egov}]
`,
	"charts/reader/Chart.yaml": "apiVersion: v2\nname: reader\nversion: 0.1.0\n",
	"charts/reader/templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: reader}
data: {a: {{ (lookup "v1" "Secret" "vault" "root").data | toJson | quote }}}
`,
	"charts/hooked/Chart.yaml":        "apiVersion: v2\nname: hooked\nversion: 0.1.0\n",
	"charts/hooked/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hooked}\n",
	"charts/hooked/templates/job.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: kube-system
  annotations: {helm.sh/hook: pre-install}
spec: {template: {spec: {restartPolicy: Never, containers: [{name: m, image: busybox}]}}}
`,
	"charts/widget/Chart.yaml":       "apiVersion: v2\nname: widget\nversion: 0.1.0\n",
	"charts/widget/templates/w.yaml": "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n",
	"charts/crd/Chart.yaml":          "apiVersion: v2\nname: crd\nversion: 0.1.0\n",
	"charts/crd/crds/widget.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`,
	"charts/crd/templates/w.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: kube-system}\n",
}

// The operator's policy: every object outside it is an error step naming
// the object and the rule, and what needs such a release is blocked;
// releases inside it plan as before.
func TestPlan_policy(t *testing.T) {
	ctx := context.Background()
	repo := t.TempDir()
	writeFiles(t, repo, policyRepo)
	env, err := envloader.Environment(ctx, envloader.Options{RepoDir: repo}, "dev")
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Parse("/etc/digitops/policy.yaml", []byte(`environments:
  "*":
    namespaces: [egov]
    clusterScoped: [Namespace, CustomResourceDefinition]
`))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := pol.For("dev")
	if err != nil {
		t.Fatal(err)
	}
	planner, err := reconciler.NewPlanner(nil, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	plan, err := planner.Plan(ctx, env, kube.LiveState{}, reconciler.PlanOptions{Policy: rules})
	if err != nil {
		t.Fatal(err)
	}
	const file = "policy /etc/digitops/policy.yaml, "
	want := map[string]struct {
		action reconciler.Action
		reason string
	}{
		"egov-config": {reconciler.ActionInstall, "not installed"},
		"rbac":        {reconciler.ActionError, `release "rbac": ClusterRoleBinding/admin-all is not allowed: ` + file + `environments["*"].clusterScoped allows Namespace, CustomResourceDefinition`},
		"user":        {reconciler.ActionBlocked, `needs "rbac", which is in error`},
		"sys":         {reconciler.ActionError, `release "sys": Namespace "kube-system" is not allowed: ` + file + `environments["*"].namespaces allows egov`},
		"reader":      {reconciler.ActionError, `release "reader": its chart calls Helm's lookup (templates/cm.yaml): lookup is not allowed: ` + file + `environments["*"].lookup is false`},
		"hooked":      {reconciler.ActionError, `release "hooked": Job kube-system/migrate is not allowed: ` + file + `environments["*"].namespaces allows egov`},
		"widget":      {reconciler.ActionError, `release "widget": Gadget (example.com/v1) is not allowed: its scope is unknown`},
		"crd":         {reconciler.ActionError, `release "crd": Widget kube-system/w is not allowed: ` + file + `environments["*"].namespaces allows egov`},
	}
	for _, st := range plan.Steps {
		w, ok := want[st.Release.Name]
		if !ok {
			t.Errorf("unexpected step %s", st.Release.Name)
			continue
		}
		if st.Action != w.action || !strings.HasPrefix(st.Reason, w.reason) {
			t.Errorf("%s: %s: %s\nwant %s: %s…", st.Release.Name, st.Action, st.Reason, w.action, w.reason)
		}
	}
	if len(plan.Steps) != len(want) {
		t.Errorf("%d steps, want %d", len(plan.Steps), len(want))
	}

	// Without a policy, every release plans as today.
	plan, err = planner.Plan(ctx, env, kube.LiveState{}, reconciler.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := plan.Summary(); s.Install != len(want) {
		t.Errorf("without a policy: %+v, want %d installs", s, len(want))
	}
}
