package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

// The real DIGIT-DevOps repository (../shared/digit-devops-corpus beside the
// checkout, two branches copied as they are) is the judge of the digit and
// helmfile layouts: every environment plans offline with placeholder
// secrets, and what the repository itself breaks is reported precisely —
// the environment, or only the release, named with its file and line —
// while every other release still plans.

// corpusBranch returns a branch folder of the corpus, or skips the test
// saying where the corpus was looked for.
func corpusBranch(t *testing.T, branch string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping the DIGIT-DevOps corpus: -short runs the unit tests only (make test plans it)")
	}
	_, file, _, _ := runtime.Caller(0)
	// cmd/digitops -> the repository root -> its parent.
	dir, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "digit-devops-corpus", branch))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "deploy-as-code")); err != nil {
		t.Skipf("skipping: the DIGIT-DevOps corpus branch %s is not at %s", branch, dir)
	}
	return dir
}

// corpusCase is one environment file planned with one product release chart
// of the unified-env branch, and what the repository makes of it.
type corpusCase struct {
	env   string // deploy-as-code/helm/environments/<env>.yaml
	chart string // config-as-code/product-release-charts/<chart>
	// envError, when set, is a part of the one error that stops the whole
	// environment (exit 1, nothing planned).
	envError string
	// releases is how many releases the plan holds.
	releases int
	// errors maps a release in error to a part of its reason; every other
	// release is planned as an install (or blocked, see blocked).
	errors map[string]string
	// blocked is how many releases need one in error (or a blocked one).
	blocked int
	// warnings are parts of the plan's warnings, one each.
	warnings []string
}

func (c corpusCase) name() string {
	return strings.ToLower(c.env + "--" + strings.TrimSuffix(strings.TrimPrefix(filepath.Base(c.chart), "dependancy_chart-"), ".yaml"))
}

func TestCorpus_unifiedEnv(t *testing.T) {
	repo := corpusBranch(t, "unified-env")
	cases := corpusUnifiedEnvCases()
	var cfg strings.Builder
	cfg.WriteString("environments:\n")
	for _, c := range cases {
		fmt.Fprintf(&cfg, `  - name: %s
    layout: digit
    chartsDir: deploy-as-code/helm/charts
    envFile: deploy-as-code/helm/environments/%s.yaml
    secretsFile: deploy-as-code/helm/environments/%s-secrets.yaml
    releaseChart: config-as-code/product-release-charts/%s
    clusterConfigs: true
`, c.name(), c.env, c.env, c.chart)
	}
	config := filepath.Join(t.TempDir(), "digitops.yaml")
	if err := os.WriteFile(config, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	for _, c := range cases {
		t.Run(c.name(), func(t *testing.T) {
			t.Parallel()
			r := runCLI(t, testContext(t), "plan", "--offline", "--secrets", "placeholder", "--diff=false", "-o", "json",
				"--repo", repo, "--config", config, "--env", c.name())
			checkCorpusPlan(t, c, r)
		})
	}
}

// checkCorpusPlan compares one plan's outcome with the case.
func checkCorpusPlan(t *testing.T, c corpusCase, r cliResult) {
	t.Helper()
	if c.envError != "" {
		if r.code != 1 || !strings.Contains(r.stderr, c.envError) {
			t.Fatalf("exit %d, stderr %q; want exit 1 and an error containing %q", r.code, r.stderr, c.envError)
		}
		return
	}
	var got planJSON
	if err := json.Unmarshal([]byte(r.out), &got); err != nil {
		t.Fatalf("exit %d, output is not a JSON plan (%v); stderr:\n%s", r.code, err, r.stderr)
	}
	wantCode := 0
	if len(c.errors) > 0 {
		wantCode = 1
	}
	if r.code != wantCode {
		t.Errorf("exit %d, want %d; stderr:\n%s", r.code, wantCode, r.stderr)
	}
	if len(got.Releases) != c.releases {
		t.Errorf("%d releases planned, want %d", len(got.Releases), c.releases)
	}
	blocked := 0
	var unexpected []string
	for _, rel := range got.Releases {
		want, inError := c.errors[rel.Name]
		switch {
		case inError:
			if rel.Action != "error" || !strings.Contains(rel.Reason, want) {
				t.Errorf("release %s: %s %q, want error containing %q", rel.Name, rel.Action, rel.Reason, want)
			}
			delete(c.errors, rel.Name)
		case rel.Action == "blocked" && strings.HasPrefix(rel.Reason, "needs "):
			blocked++
		case rel.Action != "install":
			unexpected = append(unexpected, fmt.Sprintf("%s: %s %s", rel.Name, rel.Action, rel.Reason))
		}
	}
	sort.Strings(unexpected)
	for _, u := range unexpected {
		t.Errorf("release %s, want install", u)
	}
	for name := range c.errors {
		t.Errorf("release %s is not in the plan, want it in error", name)
	}
	if blocked != c.blocked {
		t.Errorf("%d releases blocked, want %d", blocked, c.blocked)
	}
	if len(got.Warnings) != len(c.warnings) {
		t.Errorf("%d warnings, want %d: %v", len(got.Warnings), len(c.warnings), got.Warnings)
	}
	for _, w := range c.warnings {
		found := false
		for _, g := range got.Warnings {
			found = found || strings.Contains(g.String(), w)
		}
		if !found {
			t.Errorf("no warning contains %q: %v", w, got.Warnings)
		}
	}
}

// TestCorpus_helmfile: both environments of the test-jenkins-helmfile
// branch plan every release offline with placeholder secrets, and render
// prints every release.
func TestCorpus_helmfile(t *testing.T) {
	repo := corpusBranch(t, "test-jenkins-helmfile")
	envs := []string{"aws-helmfile", "gcp-helmfile"}
	var cfg strings.Builder
	cfg.WriteString("environments:\n")
	for _, e := range envs {
		fmt.Fprintf(&cfg, "  - name: %s\n    layout: helmfile\n    helmfile: deploy-as-code/digit-helmfile.yaml\n    helmfileEnvironment: %s\n", e, e)
	}
	config := filepath.Join(t.TempDir(), "digitops.yaml")
	if err := os.WriteFile(config, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	for _, e := range envs {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			args := []string{"--secrets", "placeholder", "--repo", repo, "--config", config, "--env", e}
			r := runCLI(t, testContext(t), append([]string{"plan", "--offline", "--diff=false", "-o", "json"}, args...)...)
			checkCorpusPlan(t, corpusCase{releases: 77}, r)
			r = runCLI(t, testContext(t), append([]string{"render"}, args...)...)
			if r.code != 0 {
				t.Fatalf("render: exit %d, stderr:\n%s", r.code, r.stderr)
			}
			if n := strings.Count(r.out, "\nkind: Deployment\n"); n < 40 {
				t.Errorf("render printed %d Deployments, want the DIGIT services' (over 40)", n)
			}
		})
	}
}

// corpusUnifiedEnvCases pairs the environments of unified-env with the
// release charts they are deployed with (the environment's product and
// version), and a few more pairs that reach the broken release charts.
// Every error and warning below is the repository's own: the same tree
// breaks the Go deployer or `helm template` the same way.
func corpusUnifiedEnvCases() []corpusCase {
	const (
		v25   = "DIGIT/dependancy_chart-digit-v2.5.yaml"
		v26   = "DIGIT/dependancy_chart-digit-v2.6.yaml"
		v27   = "DIGIT/dependancy_chart-digit-v2.7.yaml"
		qs27  = "DIGIT/dependancy_chart-quickstart-v2.7.yaml"
		fsm   = "Sanitation/dependancy_chart-fsm-v1.2.1.yaml"
		u22   = "URBAN/dependancy_chart-digit-v2.2.yaml"
		u23   = "URBAN/dependancy_chart-digit-v2.3.yaml"
		u24   = "URBAN/dependancy_chart-digit-v2.4.yaml"
		qs24  = "URBAN/dependancy_chart-quickstart-v2.4.yaml"
		mgram = "iFix/dependancy_chart-mGramSeva-v1.0.yaml"
	)
	// What breaks, wherever it is deployed.
	const (
		noChart    = "no chart under deploy-as-code/helm/charts has a values.yaml or "
		untagged   = "Tag is mandatory (the release chart names no image tag for this service"
		kafkaV2    = "kafka-v2/templates/statefulset.yaml:82:25: executing \"kafka-v2/templates/statefulset.yaml\" at <.Values.resources>: wrong type for value"
		redisHost  = "zuul/charts/common/templates/_deployment.yaml:156:14"
		citizenCM  = "YAML parse error on citizen/templates/subfilter-injection-configmap.yaml"
		twiceWS    = "listed twice with different tags: egovio/ws-"
		twiceFSM   = `release "fsm": listed twice with different tags: egovio/fsm-db:v1.0.1-d9a0be51-4 on line 140`
		v27missing = "DIGIT/dependancy_chart-digit-v2.7.yaml:"
	)
	// DIGIT v2.7's m_bnd names a service the branch has no chart for (its
	// module "Other" names another, but no m_* module needs it: the
	// deployer's installer does not offer it, and neither does digitops).
	v27errors := func(more map[string]string) map[string]string {
		m := map[string]string{
			"birth-death-services": v27missing + `173: release "birth-death-services": service egovio/birth-death-services:v1.0.0-f96bf4c8bc-110: ` + noChart + "birth-death-services-values.yaml",
		}
		for k, v := range more {
			m[k] = v
		}
		return m
	}
	// URBAN v2.4 lists ws-services and ws-calculator (and fsm, once as
	// fsm-db) more than once; the deployer's installer deploys
	// m_water-service (lines 107-110) last, and its tags stay.
	const keptWS = "egovio/ws-services:v1.3.1-a8da9ece-41 is deployed, as the Go deployer leaves it (it deploys module m_water-service last)"
	u24warnings := []string{
		"URBAN/dependancy_chart-digit-v2.4.yaml:115: " + `release "ws-services": ` + twiceWS + "services:v1.3.1-a8da9ece-41 on line 109 and egovio/ws-services:v1.1.0-28617974-28 on line 115; " + keptWS,
		"URBAN/dependancy_chart-digit-v2.4.yaml:121: " + `release "ws-services": ` + twiceWS,
		"URBAN/dependancy_chart-digit-v2.4.yaml:126: " + `release "ws-calculator": ` + twiceWS + "calculator:v1.1.0-4c3c8873-6 on line 108 and egovio/ws-calculator:v1.3.1-a8da9ece-41 on line 126; egovio/ws-calculator:v1.1.0-4c3c8873-6 is deployed",
		"URBAN/dependancy_chart-digit-v2.4.yaml:127: " + `release "ws-services": ` + twiceWS,
		"URBAN/dependancy_chart-digit-v2.4.yaml:133: " + `release "ws-services": ` + twiceWS,
		"URBAN/dependancy_chart-digit-v2.4.yaml:141: " + twiceFSM,
	}
	nginxAt := func(chart string, line int) map[string]string {
		return map[string]string{"nginx-ingress": fmt.Sprintf("%s:%d: release \"nginx-ingress\": service nginx-ingress: %snginx-ingress-values.yaml", chart, line, noChart)}
	}
	with := func(m map[string]string, more map[string]string) map[string]string {
		for k, v := range more {
			m[k] = v
		}
		return m
	}
	tagless := map[string]string{"zuul": untagged, "bpa-services": untagged, "bpa-calculator": untagged, "firenoc-services": untagged, "firenoc-calculator": untagged}
	cases := []corpusCase{
		// DIGIT v2.7, where most environments are.
		{env: "egov-demo", chart: v27, releases: 78, errors: v27errors(nil), blocked: 65},
		{env: "unified-dev", chart: v27, releases: 78, errors: v27errors(nil), blocked: 65},
		{env: "unified-health-dev", chart: v27, releases: 78, errors: v27errors(nil), blocked: 65},
		{env: "unified-works-dev", chart: v27, releases: 78, errors: v27errors(nil), blocked: 65},
		{env: "unified-mukta-qa", chart: v27, releases: 78, errors: v27errors(nil), blocked: 65},
		{env: "sanitation", chart: v27, releases: 78, errors: v27errors(nil), blocked: 65},
		// Their kafka-v2 resources are a map where the chart wants a string:
		// what needs Kafka waits for it.
		{env: "unified-qa", chart: v27, releases: 78, errors: v27errors(map[string]string{"kafka-v2": kafkaV2}), blocked: 65},
		{env: "unified-uat", chart: v27, releases: 78, errors: v27errors(map[string]string{"kafka-v2": kafkaV2}), blocked: 65},
		{env: "unified-health-qa", chart: v27, releases: 78, errors: v27errors(map[string]string{"kafka-v2": kafkaV2}), blocked: 65},
		{env: "unified-works-qa", chart: v27, releases: 78, errors: v27errors(map[string]string{"kafka-v2": kafkaV2}), blocked: 65},
		{env: "unified-works-uat", chart: v27, releases: 78, errors: v27errors(map[string]string{"kafka-v2": kafkaV2}), blocked: 65},
		{env: "unified-health-uat", chart: v27, releases: 78, errors: v27errors(map[string]string{"kafka-v2": kafkaV2, "citizen": citizenCM}), blocked: 64},
		// The Jenkins-only environment has none of the services' settings.
		{env: "ci-demo", chart: v27, releases: 78, errors: v27errors(map[string]string{
			"zuul":          redisHost + `: executing "common.deployment" at <tpl .Values.env .>`,
			"kafka-connect": "kafka-connect/charts/common/templates/_deployment.yaml:156:14",
			"report":        "report/charts/common/templates/_deployment.yaml:156:14",
		}), blocked: 64},
		// A secrets template with `db: // comment`: cluster-configs, which
		// everything needs, cannot be loaded.
		{env: "egov-demo-template", chart: v27, releases: 78, errors: v27errors(map[string]string{
			"cluster-configs": "deploy-as-code/helm/environments/egov-demo-template-secrets.yaml:3: invalid YAML",
		}), blocked: 72},
		// Older DIGIT release charts.
		{env: "egov-demo", chart: v26, releases: 76, blocked: 54, warnings: []string{"DIGIT/dependancy_chart-digit-v2.6.yaml:52: module dependency cycle: core -> frontend -> business -> core"}},
		{env: "egov-demo", chart: v25, envError: "config-as-code/product-release-charts/DIGIT/dependancy_chart-digit-v2.5.yaml:60: invalid YAML"},
		// Sanitation's release chart does not parse.
		{env: "sanitation", chart: fsm, envError: "config-as-code/product-release-charts/Sanitation/dependancy_chart-fsm-v1.2.1.yaml:62: invalid YAML"},
		{env: "sanitation-qa", chart: fsm, envError: "Sanitation/dependancy_chart-fsm-v1.2.1.yaml:62: invalid YAML"},
		{env: "sanitation-uat", chart: fsm, envError: "Sanitation/dependancy_chart-fsm-v1.2.1.yaml:62: invalid YAML"},
		// Quickstart.
		{env: "quickstart-config", chart: qs27, releases: 23},
		{env: "quickstart-config", chart: qs24, releases: 25, errors: nginxAt("URBAN/dependancy_chart-quickstart-v2.4.yaml", 8), blocked: 16},
		// URBAN: nginx-ingress has no chart on this branch, and some
		// services are listed without a tag.
		{env: "unified-urban-dev", chart: u24, releases: 64, errors: nginxAt("URBAN/dependancy_chart-digit-v2.4.yaml", 15), blocked: 52, warnings: u24warnings},
		{env: "unified-urban-qa", chart: u24, releases: 64, errors: with(nginxAt("URBAN/dependancy_chart-digit-v2.4.yaml", 15), map[string]string{"kafka-v2": kafkaV2}), blocked: 52, warnings: u24warnings},
		{env: "unified-urban-uat", chart: u24, releases: 64, errors: with(nginxAt("URBAN/dependancy_chart-digit-v2.4.yaml", 15), map[string]string{"kafka-v2": kafkaV2}), blocked: 52, warnings: u24warnings},
		{env: "unified-urban-dev", chart: u23, releases: 64, errors: with(nginxAt("URBAN/dependancy_chart-digit-v2.3.yaml", 15), tagless), blocked: 48},
		{env: "unified-urban-dev", chart: u22, releases: 64, errors: with(nginxAt("URBAN/dependancy_chart-digit-v2.2.yaml", 15), map[string]string{"zuul": untagged}), blocked: 52, warnings: []string{
			"URBAN/dependancy_chart-digit-v2.2.yaml:126: " + `release "ws-calculator": ` + twiceWS,
			"URBAN/dependancy_chart-digit-v2.2.yaml:127: " + `release "ws-services": ` + twiceWS,
		}},
		// iFix / mGramSeva.
		{env: "unified-ifix-dev", chart: mgram, releases: 65, errors: with(nginxAt("iFix/dependancy_chart-mGramSeva-v1.0.yaml", 15), tagless), blocked: 49},
		{env: "unified-ifix-qa", chart: mgram, releases: 65, errors: with(with(nginxAt("iFix/dependancy_chart-mGramSeva-v1.0.yaml", 15), tagless), map[string]string{"kafka-v2": kafkaV2}), blocked: 49},
	}
	// The branch's elasticsearch, zookeeper and kafka-connect-restart-tasks
	// charts use API versions Kubernetes removed (the plan renders for
	// Kubernetes 1.37, as the build): they are in error in every
	// environment but quickstart's, which does not deploy them.
	removedAPIs := map[string]string{
		"elasticsearch-data-v1":       "PodDisruptionBudget es-cluster/elasticsearch-data-v1-pdb uses policy/v1beta1 (removed in v1.25): use policy/v1",
		"elasticsearch-master-v1":     "PodDisruptionBudget es-cluster/elasticsearch-master-v1-pdb uses policy/v1beta1 (removed in v1.25): use policy/v1",
		"zookeeper-v2":                "PodDisruptionBudget zookeeper-cluster/zookeeper-v2-pdb uses policy/v1beta1 (removed in v1.25): use policy/v1",
		"kafka-connect-restart-tasks": "uses batch/v2alpha1 (removed in v1.21): use batch/v1",
	}
	for i := range cases {
		c := &cases[i]
		if c.envError != "" || c.env == "quickstart-config" {
			continue
		}
		if c.errors == nil {
			c.errors = map[string]string{}
		}
		for name, why := range removedAPIs {
			if _, ok := c.errors[name]; !ok {
				c.errors[name] = why
			}
		}
	}
	return cases
}

// TestCorpus_renderAsTheDeployer renders egov-user of egov-demo with DIGIT
// v2.7 and checks the Go deployer's layering on the real tree: the chart is
// found by egov-user-values.yaml alone (its folder has no values.yaml), the
// release chart's tag goes to the image and the migration image, the
// environment file's egov-user block reaches the container's environment,
// and egov-user-values.yaml, applied last, sets the replicas.
func TestCorpus_renderAsTheDeployer(t *testing.T) {
	repo := corpusBranch(t, "unified-env")
	config := filepath.Join(t.TempDir(), "digitops.yaml")
	cfg := `environments:
  - name: egov-demo
    layout: digit
    chartsDir: deploy-as-code/helm/charts
    envFile: deploy-as-code/helm/environments/egov-demo.yaml
    secretsFile: deploy-as-code/helm/environments/egov-demo-secrets.yaml
    releaseChart: config-as-code/product-release-charts/DIGIT/dependancy_chart-digit-v2.7.yaml
    clusterConfigs: true
`
	if err := os.WriteFile(config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, testContext(t), "render", "--secrets", "placeholder", "--repo", repo, "--config", config, "--env", "egov-demo", "--release", "egov-user")
	if r.code != 0 {
		t.Fatalf("render: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	var deployment string
	for _, doc := range strings.Split(r.out, "\n---\n") {
		if strings.Contains(doc, "\nkind: Deployment\n") {
			deployment = doc
		}
	}
	for _, want := range []string{
		"\n  replicas: 2\n",
		"image: egovio/egov-user:v1.2.7-cc363f0584-12\n",
		"image: egovio/egov-user-db:v1.2.7-cc363f0584-12\n",
		"- name: JAVA_OPTS\n              value: \"-Xmx256m -Xms256m\"\n",
		"- name: ACCESS_TOKEN_VALIDITY_IN_MINUTES\n              value: \"10080\"\n",
	} {
		if !strings.Contains(deployment, want) {
			t.Errorf("the egov-user Deployment lacks %q:\n%s", want, deployment)
		}
	}
}

// TestCorpus_filteredBlocked: plan --release renders only that release and
// names the needs it left unchecked; with --include-needs, a release that
// needs one in error fails too (exit 1), naming what blocks it.
func TestCorpus_filteredBlocked(t *testing.T) {
	repo := corpusBranch(t, "unified-env")
	config := filepath.Join(t.TempDir(), "digitops.yaml")
	cfg := `environments:
  - name: unified-qa
    layout: digit
    chartsDir: deploy-as-code/helm/charts
    envFile: deploy-as-code/helm/environments/unified-qa.yaml
    secretsFile: deploy-as-code/helm/environments/unified-qa-secrets.yaml
    releaseChart: config-as-code/product-release-charts/DIGIT/dependancy_chart-digit-v2.7.yaml
    clusterConfigs: true
`
	if err := os.WriteFile(config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"plan", "--offline", "--secrets", "placeholder", "--diff=false", "--repo", repo, "--config", config, "--env", "unified-qa", "--release", "egov-user"}
	r := runCLI(t, testContext(t), args...)
	if r.code != 0 || !strings.Contains(r.out, "install egov/egov-user") || !strings.Contains(r.out, "needed by the releases selected: zookeeper-v2, kafka-v2,") || strings.Contains(r.out, "install kafka") || strings.Contains(r.out, "renders differently on every run at Deployment/kafka") {
		t.Errorf("plan --release egov-user: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.stderr)
	}
	r = runCLI(t, testContext(t), append(args, "--include-needs")...)
	if r.code != 1 || !strings.Contains(r.out, `unable to render release "kafka-v2"`) || !strings.Contains(r.stderr, "kafka-v2") || !strings.Contains(r.out, `blocked egov/egov-user: needs "zookeeper-v2", which is in error`) {
		t.Errorf("plan --release egov-user --include-needs: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.stderr)
	}
}
