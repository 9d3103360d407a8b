package main

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/digitops/digitops/internal/redact"
	"github.com/digitops/digitops/internal/testenv"
	"github.com/digitops/digitops/source/manifest/sops/sopstest"
)

// Planted secret values: they must never appear in plan output.
const (
	planted1 = "planted-password-one"
	planted2 = "planted-password-two"
)

// quickstartRepo copies the quickstart and adds a release rendering a Secret
// from a value; with wait off (no controllers) and prune on.
func quickstartRepo(t *testing.T) string {
	t.Helper()
	repo := t.TempDir()
	copyTree(t, "../../examples/quickstart", repo)
	files := map[string]string{
		"charts/services/db-secret/Chart.yaml": "apiVersion: v2\nname: db-secret\nversion: 0.1.0\n",
		"charts/services/db-secret/templates/secret.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  username: egov
  password: {{ .Values.password | quote }}
`,
	}
	for p, c := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(repo, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	editConfig(t, repo,
		"      timeout: 2m\n", "      timeout: 2m\n      wait: false\n      prune: true\n      maxPrunePercent: 50\n",
		"        needs: [egov-user, egov-mdms-service]\n", "        needs: [egov-user, egov-mdms-service]\n      - name: db-secret\n        namespace: egov\n        chart: charts/services/db-secret\n        needs: [pgr-services]\n        values:\n          password: "+planted1+"\n")
	return repo
}

// editConfig replaces old by new (pairs) in the repository's digitops.yaml.
func editConfig(t *testing.T, repo string, pairs ...string) {
	t.Helper()
	path := filepath.Join(repo, "digitops.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("digitops.yaml has no %q", pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPlan_liveCluster walks one environment through install, no-op and a
// change of every kind (values upgrade, masked Secret change, drift made by
// another field manager, prune) on the real control plane, with golden
// text, JSON and markdown plans, the apply progress lines and the
// --detailed-exitcode codes.
func TestPlan_liveCluster(t *testing.T) {
	env := testenv.ForTest(t, testenv.Options{})
	ctx := testContext(t)
	repo := quickstartRepo(t)
	common := []string{"--repo", repo, "--kubeconfig", env.Kubeconfig}

	// 1. Everything to install: exit code 2.
	r := runCLI(t, ctx, append([]string{"plan", "-o", "json", "--detailed-exitcode"}, common...)...)
	if r.code != 2 {
		t.Fatalf("plan before install: exit %d, want 2; stderr:\n%s", r.code, r.stderr)
	}
	assertGolden(t, "plan-install.json", r.out)

	// 2. Apply (no terminal: no prompt, plain progress lines).
	r = runCLI(t, ctx, append([]string{"apply", "--diff=false"}, common...)...)
	if r.code != 0 {
		t.Fatalf("apply: exit %d; stdout:\n%s\nstderr:\n%s", r.code, r.out, r.stderr)
	}
	assertGolden(t, "apply-install.txt", r.out)
	assertNoSecret(t, "apply", r.out+r.stderr, planted1)
	// Helm wrote as "digitops", not as the executable's name (here
	// digitops.test), so a renamed binary sees no drift in its own fields.
	d, err := kubernetes.NewForConfigOrDie(env.Config).AppsV1().Deployments("egov").Get(ctx, "egov-user", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var managers []string
	for _, mf := range d.ManagedFields {
		managers = append(managers, mf.Manager)
	}
	if len(managers) != 1 || managers[0] != "digitops" {
		t.Errorf("egov-user's field managers = %v, want [digitops]", managers)
	}

	// 3. Nothing to do: exit code 0.
	r = runCLI(t, ctx, append([]string{"plan", "--detailed-exitcode"}, common...)...)
	if r.code != 0 {
		t.Fatalf("plan after apply: exit %d, want 0; stdout:\n%s\nstderr:\n%s", r.code, r.out, r.stderr)
	}
	assertGolden(t, "plan-nochange.txt", r.out)

	// status straight from the cluster: revision, chart, images, state.
	r = runCLI(t, ctx, append([]string{"status"}, common...)...)
	if r.code != 0 {
		t.Fatalf("status: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	assertGolden(t, "status.txt", r.out)

	// 4. A change of every kind.
	editConfig(t, repo,
		"          - replicas: 2\n", "          - replicas: 3\n",
		"password: "+planted1, "password: "+planted2)
	editConfig(t, repo,
		"      - name: pgr-services\n        namespace: egov\n        chart: charts/services/pgr-services\n        values: [environments/dev.yaml]\n        needs: [egov-user, egov-mdms-service]\n", "",
		"        needs: [pgr-services]\n", "")
	cs := kubernetes.NewForConfigOrDie(env.Config)
	patch := []byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"egov-mdms-service","namespace":"egov"},"spec":{"replicas":5}}`)
	force := true
	if _, err := cs.AppsV1().Deployments("egov").Patch(ctx, "egov-mdms-service", types.ApplyPatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-edit", Force: &force}); err != nil {
		t.Fatalf("make drift: %v", err)
	}

	for _, tc := range []struct {
		// format is the -o value; golden the file it is compared with.
		format, golden string
	}{
		{"text", "plan-changes.txt"},
		{"json", "plan-changes.json"},
		{"markdown", "plan-changes.md"},
	} {
		r = runCLI(t, ctx, append([]string{"plan", "-o", tc.format, "--detailed-exitcode"}, common...)...)
		if r.code != 2 {
			t.Fatalf("plan -o %s: exit %d, want 2; stderr:\n%s", tc.format, r.code, r.stderr)
		}
		assertGolden(t, tc.golden, r.out)
		assertNoSecret(t, "plan -o "+tc.format, r.out+r.stderr, planted1, planted2)
	}
	r = runCLI(t, ctx, append([]string{"status", "-o", "json"}, common...)...)
	if r.code != 0 || !strings.Contains(r.out, `"manager": "kubectl-edit"`) || !strings.Contains(r.out, `"state": "drifted"`) {
		t.Errorf("status -o json after drift: exit %d\n%s%s", r.code, r.out, r.stderr)
	}
	// status agrees with the plan: upgrades are out of sync, the drift
	// is the plan's, and the release Git no longer has is listed.
	r = runCLI(t, ctx, append([]string{"status"}, common...)...)
	if r.code != 0 {
		t.Fatalf("status after changes: exit %d; stderr:\n%s", r.code, r.stderr)
	}
	assertGolden(t, "status-changes.txt", r.out)
	assertNoSecret(t, "status", r.out+r.stderr, planted1, planted2)

	// 5. Filters: one release; an unknown one is an error naming the releases.
	r = runCLI(t, ctx, append([]string{"plan", "--release", "egov-user", "--diff=false"}, common...)...)
	if r.code != 0 || !strings.Contains(r.out, "egov/egov-user: values changed") || strings.Contains(r.out, "db-secret") {
		t.Errorf("plan --release egov-user: exit %d\n%s%s", r.code, r.out, r.stderr)
	}
	r = runCLI(t, ctx, append([]string{"plan", "--selector", "name=nope"}, common...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "no release matches --selector name=nope; the environment has: ") {
		t.Errorf("plan --selector name=nope: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestPlan_offline plans from Git alone (no cluster, no kubeconfig): every
// release is an install whose diff is the full render, with the Secrets of
// the DIGIT example masked.
func TestPlan_offline(t *testing.T) {
	ctx := testContext(t)
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	// Copies, so that the revision (the checkout's HEAD) is not in the output.
	digit, quickstart := t.TempDir(), t.TempDir()
	copyTree(t, "../../examples/digit", digit)
	copyTree(t, "../../examples/quickstart", quickstart)
	for _, tc := range []struct {
		// args select the environment; golden is the expected output.
		args   []string
		golden string
	}{
		{[]string{"--repo", digit, "--env", "demo", "--selector", "name=cluster-configs"}, "plan-offline-digit.txt"},
		{[]string{"--repo", digit, "--env", "demo", "-o", "markdown", "--release", "cluster-configs"}, "plan-offline-digit.md"},
		{[]string{"--repo", quickstart, "-o", "json"}, "plan-offline-quickstart.json"},
	} {
		r := runCLI(t, ctx, append([]string{"plan", "--offline", "--detailed-exitcode"}, tc.args...)...)
		if r.code != 2 {
			t.Fatalf("%v: exit %d, want 2; stderr:\n%s", tc.args, r.code, r.stderr)
		}
		assertGolden(t, tc.golden, r.out)
		assertNoSecret(t, tc.golden, r.out, "demo-db-password", "sms-demo-password")
	}
	r := runCLI(t, ctx, "plan", "--offline", "--repo", quickstart, "-o", "yaml")
	if r.code != 1 || !strings.Contains(r.stderr, "use -o text, json or markdown") {
		t.Errorf("-o yaml: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestRender_offline: render prints what helm template would, with the
// layering applied; --mask-secrets hides the secrets file's values.
func TestRender_offline(t *testing.T) {
	ctx := testContext(t)
	r := runCLI(t, ctx, "render", "--repo", "../../examples/digit", "--env", "demo", "--release", "cluster-configs", "--mask-secrets")
	if r.code != 0 {
		t.Fatalf("render: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	assertGolden(t, "render-cluster-configs.yaml", r.out)
	encoded := base64.StdEncoding.EncodeToString([]byte("demo-db-password"))
	assertNoSecret(t, "render --mask-secrets", r.out, "demo-db-password", encoded)
	r = runCLI(t, ctx, "render", "--repo", "../../examples/digit", "--env", "demo", "--release", "cluster-configs")
	if !strings.Contains(r.out, encoded) {
		t.Errorf("render without --mask-secrets should show the secret values (it is the debugging tool)")
	}
}

// TestPlan_unknownSecretsMode: --secrets takes decrypt or placeholder only.
func TestPlan_unknownSecretsMode(t *testing.T) {
	r := runCLI(t, testContext(t), "plan", "--offline", "--repo", "../../examples/quickstart", "--secrets", "bogus")
	if r.code != 1 || !strings.Contains(r.stderr, `--secrets "bogus": want decrypt or placeholder`) {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestPlan_secretRotation: a value of the secrets file that a chart puts in
// a ConfigMap, in clear and through b64enc, is rotated. Neither the old nor
// the new value (nor their base64) appears in any plan format: the old one
// is found in the deployed release's values.
func TestPlan_secretRotation(t *testing.T) {
	env := testenv.ForTest(t, testenv.Options{})
	ctx := testContext(t)
	repo := t.TempDir()
	copyTree(t, "../../examples/digit", repo)
	const (
		oldPass     = "old-db-password-1"
		newPass     = "new-db-password-2"
		secretsFile = "deploy-as-code/helm/environments/demo-secrets.yaml"
	)
	write := func(path, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(repo, path), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("deploy-as-code/helm/charts/cluster-configs/templates/db-check.yaml", `apiVersion: v1
kind: ConfigMap
metadata:
  name: db-check
  namespace: egov
data:
  dbpass: {{ index .Values "cluster-configs" "secrets" "db" "password" | quote }}
  dbpass64: {{ index .Values "cluster-configs" "secrets" "db" "password" | b64enc | quote }}
`)
	secrets, err := os.ReadFile(filepath.Join(repo, secretsFile))
	if err != nil {
		t.Fatal(err)
	}
	editConfig(t, repo, "    cluster: {context: demo}\n", "") // the test's kubeconfig
	write(secretsFile, strings.Replace(string(secrets), "password: demo-db-password", "password: "+oldPass, 1))
	common := []string{"--repo", repo, "--env", "demo", "--release", "cluster-configs", "--kubeconfig", env.Kubeconfig}
	if r := runCLI(t, ctx, append([]string{"apply", "--diff=false"}, common...)...); r.code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", r.code, r.out, r.stderr)
	}
	write(secretsFile, strings.Replace(string(secrets), "password: demo-db-password", "password: "+newPass, 1))
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, format := range []string{"text", "markdown", "json"} {
		r := runCLI(t, ctx, append([]string{"plan", "-o", format, "--detailed-exitcode"}, common...)...)
		if r.code != 2 {
			t.Fatalf("plan -o %s: exit %d, want 2\n%s%s", format, r.code, r.out, r.stderr)
		}
		assertNoSecret(t, "plan -o "+format, r.out+r.stderr, oldPass, newPass, b64(oldPass), b64(newPass))
		if format == "text" && (!strings.Contains(r.out, redact.Value(oldPass)) || !strings.Contains(r.out, redact.Value(newPass))) {
			t.Errorf("plan -o text does not show the masked change of dbpass:\n%s", r.out)
		}
	}
}

// TestPlan_offlineRemoteChart: plan --offline makes no request to a
// chart repository (from CI, a repo: URL can name any host); a remote chart
// the cache does not hold is a release error naming it.
func TestPlan_offlineRemoteChart(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	repo := writeRepo(t, map[string]string{
		"digitops.yaml": "environments:\n  - name: dev\n    releases:\n      - {name: a, chart: demo, version: 0.1.0, repo: " + srv.URL + "/charts}\n",
	})
	r := runCLI(t, testContext(t), "plan", "--offline", "--repo", repo, "--env", "dev")
	if want := "chart demo 0.1.0 of " + srv.URL + "/charts is not in the chart cache"; r.code != 1 || !strings.Contains(r.stderr+r.out, want) {
		t.Errorf("exit %d, stderr %q; want exit 1 and %q", r.code, r.stderr, want)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("plan --offline made %d requests to the chart repository", n)
	}
}

// TestRender_sopsDecrypted: the program decrypts a SOPS secrets file (the
// library is linked here only, see sopslib) with the key it finds the way
// sops does.
func TestRender_sopsDecrypted(t *testing.T) {
	key, err := filepath.Abs("../../examples/digit/TEST-ONLY-age-key.txt")
	if err != nil {
		t.Fatal(err)
	}
	sopstest.IsolateKeys(t, "SOPS_AGE_KEY_FILE", key)
	r := runCLI(t, testContext(t), "render", "--repo", "../../examples/digit", "--env", "demo-sops", "--release", "cluster-configs")
	if r.code != 0 {
		t.Fatalf("render: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if encoded := base64.StdEncoding.EncodeToString([]byte("demo-db-password")); !strings.Contains(r.out, encoded) {
		t.Errorf("the render lacks the decrypted db password (%s):\n%s", encoded, r.out)
	}
}
