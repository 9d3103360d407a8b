package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/digitops/digitops/internal/testenv"
)

// lookupRepo is an environment of one release whose chart copies a
// password out of a live Secret with Helm's lookup.
func lookupRepo(t *testing.T) string {
	t.Helper()
	return writeRepo(t, map[string]string{
		"digitops.yaml": `environments:
  - name: dev
    layout: native
    sync: {wait: false}
    releases:
      - {name: reader, namespace: egov, chart: charts/reader}
`,
		"charts/reader/Chart.yaml": "apiVersion: v2\nname: reader\nversion: 0.1.0\n",
		"charts/reader/templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: reader
  labels: {app: reader}
data:
  {{- $s := lookup "v1" "Secret" "vault" "db-root" }}
  password: {{ if $s }}{{ $s.data.password | b64dec | quote }}{{ else }}"none"{{ end }}
`,
	})
}

// A chart that calls lookup: the plan says so and names what it read, its
// render sees the live object as Helm's install will, and the Secret's
// value is masked in every output, also in the diff of the next change.
func TestPlan_lookupIsNamedAndMasked(t *testing.T) {
	env := testenv.ForTest(t, testenv.Options{})
	ctx := testContext(t)
	cs := kubernetes.NewForConfigOrDie(env.Config)
	const password = "root-pass-9f3a71"
	for _, ns := range []string{"vault", "egov"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cs.CoreV1().Secrets("vault").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db-root"}, StringData: map[string]string{"password": password}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	repo := lookupRepo(t)
	common := []string{"--repo", repo, "--kubeconfig", env.Kubeconfig}
	leaks := []string{password, base64.StdEncoding.EncodeToString([]byte(password))}

	r := runCLI(t, ctx, append([]string{"plan", "--diff"}, common...)...)
	if r.code != 0 {
		t.Fatalf("plan: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"lookup: templates/cm.yaml reads live objects when Helm acts", "read: secrets vault/db-root", "password: (secret sha256:"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("plan does not say %q:\n%s", want, r.out)
		}
	}
	assertNoSecret(t, "plan", r.out+r.stderr, leaks...)

	r = runCLI(t, ctx, append([]string{"apply", "--diff=false"}, common...)...)
	if r.code != 0 {
		t.Fatalf("apply: exit %d; stdout:\n%s\nstderr:\n%s", r.code, r.out, r.stderr)
	}
	assertNoSecret(t, "apply", r.out+r.stderr, leaks...)
	cm, err := cs.CoreV1().ConfigMaps("egov").Get(ctx, "reader", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["password"] != password {
		t.Errorf("the applied ConfigMap holds %q, want what lookup read", cm.Data["password"])
	}

	// The chart changes: the diff shows the deployed manifest, which holds
	// what lookup read.
	path := filepath.Join(repo, "charts/reader/templates/cm.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), "{app: reader}", "{app: reader, tier: backend}", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"text", "markdown", "json"} {
		r = runCLI(t, ctx, append([]string{"plan", "--diff", "-o", format}, common...)...)
		if r.code != 0 {
			t.Fatalf("plan -o %s after the chart change: exit %d; stderr:\n%s", format, r.code, r.stderr)
		}
		if !strings.Contains(r.out, "tier") && format != "json" {
			t.Errorf("plan -o %s does not show the change:\n%s", format, r.out)
		}
		assertNoSecret(t, "plan -o "+format, r.out+r.stderr, leaks...)
	}
}

// Offline, lookup finds nothing: render and plan say so.
func TestRender_lookupOfflineIsNamed(t *testing.T) {
	ctx := testContext(t)
	repo := lookupRepo(t)
	r := runCLI(t, ctx, "render", "--repo", repo)
	if r.code != 0 {
		t.Fatalf("render: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if want := "digitops: warning: release egov/reader calls Helm's lookup (templates/cm.yaml): rendered as though no live object exists"; !strings.Contains(r.stderr, want) {
		t.Errorf("render stderr does not say %q:\n%s", want, r.stderr)
	}
	r = runCLI(t, ctx, "plan", "--offline", "--repo", repo)
	if r.code != 0 {
		t.Fatalf("plan --offline: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"lookup: templates/cm.yaml reads live objects when Helm acts", "reader call Helm's lookup: an offline plan renders them as though no live object exists"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("plan --offline does not say %q:\n%s", want, r.out)
		}
	}
}

// An operator policy on apply: the releases outside it are error steps
// naming the object and the rule, nothing of them is applied and what
// needs them is blocked; the release inside it is applied.
func TestApply_policyRefusesWhatItDoesNotAllow(t *testing.T) {
	env := testenv.ForTest(t, testenv.Options{})
	ctx := testContext(t)
	cs := kubernetes.NewForConfigOrDie(env.Config)
	repo := writeRepo(t, map[string]string{
		"digitops.yaml": `environments:
  - name: dev
    layout: native
    sync: {wait: false}
    releases:
      - {name: a, namespace: egov, chart: charts/app}
      - {name: rbac, namespace: egov, chart: charts/rbac}
      - {name: b, namespace: egov, chart: charts/app, needs: [rbac]}
      - {name: sys, namespace: kube-system, chart: charts/app}
      - {name: reader, namespace: egov, chart: charts/reader}
`,
		"charts/app/Chart.yaml":           okChart,
		"charts/app/templates/cm.yaml":    okTemplate,
		"charts/rbac/Chart.yaml":          "apiVersion: v2\nname: rbac\nversion: 0.1.0\n",
		"charts/rbac/templates/crb.yaml":  "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: admin-all}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: default, namespace: egov}]\n",
		"charts/reader/Chart.yaml":        "apiVersion: v2\nname: reader\nversion: 0.1.0\n",
		"charts/reader/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: r}\ndata: {a: {{ (lookup \"v1\" \"Secret\" \"vault\" \"root\").data | toJson | quote }}}\n",
	})
	pol := policyFile(t, "namespaces: [egov]\n    clusterScoped: [Namespace]")
	r := runCLI(t, ctx, "apply", "--repo", repo, "--kubeconfig", env.Kubeconfig, "--policy", pol)
	if r.code != 1 {
		t.Fatalf("apply: exit %d, want 1; stdout:\n%s\nstderr:\n%s", r.code, r.out, r.stderr)
	}
	for _, want := range []string{
		`rbac: release "rbac": ClusterRoleBinding/admin-all is not allowed: policy ` + pol + `, environments["*"].clusterScoped allows Namespace`,
		`b: needs "rbac", which is in error`,
		`sys: release "sys": Namespace "kube-system" is not allowed: policy ` + pol + `, environments["*"].namespaces allows egov`,
		`reader: release "reader": its chart calls Helm's lookup (templates/cm.yaml): lookup is not allowed`,
	} {
		if !strings.Contains(r.out, want) {
			t.Errorf("apply does not say %q:\n%s", want, r.out)
		}
	}
	if !strings.Contains(r.stderr, "3 release(s) failed: rbac, sys, reader") {
		t.Errorf("apply's error does not name the refused releases:\n%s", r.stderr)
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, "admin-all", metav1.GetOptions{}); err == nil {
		t.Error("the ClusterRoleBinding the policy refuses was created")
	}
	secrets, err := cs.CoreV1().Secrets("").List(ctx, metav1.ListOptions{LabelSelector: "owner=helm"})
	if err != nil {
		t.Fatal(err)
	}
	var released []string
	for _, s := range secrets.Items {
		released = append(released, s.Labels["name"])
	}
	if len(released) != 1 || released[0] != "a" {
		t.Errorf("Helm releases after the apply: %v, want only a", released)
	}
}

// render checks the policy as plan does: a refused release is named with
// the rule, and is not printed.
func TestRender_policy(t *testing.T) {
	ctx := testContext(t)
	repo := lookupRepo(t)
	r := runCLI(t, ctx, "render", "--repo", repo, "--policy", policyFile(t, "namespaces: [egov]"))
	if r.code != 1 {
		t.Fatalf("render: exit %d, want 1; stderr:\n%s", r.code, r.stderr)
	}
	if want := `digitops: release egov/reader: its chart calls Helm's lookup (templates/cm.yaml): lookup is not allowed`; !strings.Contains(r.stderr, want) {
		t.Errorf("render does not say %q:\n%s", want, r.stderr)
	}
	if strings.Contains(r.out, "kind: ConfigMap") {
		t.Errorf("render printed the refused release:\n%s", r.out)
	}
	r = runCLI(t, ctx, "render", "--repo", repo, "--policy", policyFile(t, "namespaces: [egov]\n    lookup: true"))
	if r.code != 0 || !strings.Contains(r.out, "kind: ConfigMap") {
		t.Errorf("render with lookup allowed: exit %d; stdout:\n%s\nstderr:\n%s", r.code, r.out, r.stderr)
	}
}

// An offline plan (the pull request's) refuses a cluster the policy does
// not list, as the daemon will.
func TestPlan_policyOfflineRefusesTheCluster(t *testing.T) {
	ctx := testContext(t)
	repo := writeRepo(t, map[string]string{
		"digitops.yaml":                "environments:\n  - name: dev\n    cluster: {context: prod}\n    releases:\n      - {name: a, namespace: egov, chart: charts/app}\n",
		"charts/app/Chart.yaml":        okChart,
		"charts/app/templates/cm.yaml": okTemplate,
	})
	r := runCLI(t, ctx, "plan", "--offline", "--repo", repo, "--policy", policyFile(t, "namespaces: [egov]\n    clusters: [{context: dev}]"))
	if want := `environment "dev": cluster context "prod" is not allowed`; r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("plan --offline: exit %d, want 1 and %q; stderr:\n%s", r.code, want, r.stderr)
	}
	r = runCLI(t, ctx, "plan", "--offline", "--repo", repo, "--policy", policyFile(t, "namespaces: [egov]\n    clusters: [{context: prod}]"))
	if r.code != 0 {
		t.Errorf("plan --offline with the cluster listed: exit %d; stderr:\n%s", r.code, r.stderr)
	}
}
