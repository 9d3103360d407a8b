package deploy_test

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/digitops/digitops/daemon/history"
	"github.com/digitops/digitops/metrics"
	"github.com/digitops/digitops/policy"
)

const chartDir = "helm/digitops"

// allOn turns on every optional part of the chart.
var allOn = map[string]any{
	"webhookSecret":                 "digitops-webhooks",
	"kubeconfigSecret":              "digitops-kubeconfigs",
	"source":                        map[string]any{"credentialsSecret": "git", "environments": []any{"egov-demo", "qa"}},
	"sync":                          map[string]any{"sopsAgeSecret": "sops-age"},
	"metrics":                       map[string]any{"serviceMonitor": map[string]any{"enabled": true}, "prometheusRule": map[string]any{"enabled": true}, "grafanaDashboard": map[string]any{"enabled": true}},
	"terminationGracePeriodSeconds": 45,
	"policy":                        map[string]any{"environments": map[string]any{"*": map[string]any{"namespaces": []any{"egov"}, "clusterScoped": []any{"Namespace"}}}},
}

// render renders the chart with vals and returns its documents by kind/name.
func render(t *testing.T, vals map[string]any) map[string][]byte {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	install := action.NewInstall(&action.Configuration{})
	install.DryRun, install.ClientOnly, install.Replace = true, true, true
	install.ReleaseName, install.Namespace = "digitops", "digitops-system"
	install.KubeVersion = &chartutil.KubeVersion{Version: "v1.37.2", Major: "1", Minor: "37"}
	rel, err := install.Run(ch, vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	docs := map[string][]byte{}
	for _, doc := range strings.Split(rel.Manifest, "\n---") {
		var head struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("invalid YAML rendered: %v\n%s", err, doc)
		}
		if head.Kind != "" {
			docs[head.Kind+"/"+head.Metadata.Name] = []byte(doc)
		}
	}
	return docs
}

func TestChart_lint(t *testing.T) {
	res := lint.AllWithKubeVersion(chartDir, allOn, "digitops-system", &chartutil.KubeVersion{Version: "v1.37.2", Major: "1", Minor: "37"})
	for _, m := range res.Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("helm lint: %s", m)
		}
	}
}

func TestChart_render(t *testing.T) {
	docs := render(t, allOn)
	var kinds []string
	for k := range docs {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, want := range []string{
		"ClusterRole/digitops", "ClusterRoleBinding/digitops", "ConfigMap/digitops-dashboard", "Deployment/digitops",
		"PrometheusRule/digitops", "Role/digitops-leader-election", "RoleBinding/digitops-leader-election",
		"Service/digitops", "ServiceAccount/digitops", "ServiceMonitor/digitops", "Secret/digitops-api-token",
	} {
		if docs[want] == nil {
			t.Errorf("chart does not render %s (rendered: %v)", want, kinds)
		}
	}
	var dep appsv1.Deployment
	if err := yaml.UnmarshalStrict(docs["Deployment/digitops"], &dep); err != nil {
		t.Fatalf("Deployment: %v", err)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"serve", "--leader-elect", "--leader-election-namespace=digitops-system", "--env=egov-demo,qa",
		"--shutdown-grace=30s", "--github-webhook-secret-file=/etc/digitops/webhooks/github", "--api-token-file=/etc/digitops/api/token",
		"--policy=/etc/digitops/policy/policy.yaml"} {
		if !strings.Contains(args, want) {
			t.Errorf("container args lack %q: %s", want, args)
		}
	}
	if g := *dep.Spec.Template.Spec.TerminationGracePeriodSeconds; g <= 30 {
		t.Errorf("terminationGracePeriodSeconds = %d, not above the 30s shutdown grace", g)
	}
	memLimit := false
	for _, e := range c.Env {
		memLimit = memLimit || (e.Name == "GOMEMLIMIT" && e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil && e.ValueFrom.ResourceFieldRef.Resource == "limits.memory")
	}
	if !memLimit {
		t.Errorf("container env %+v: want GOMEMLIMIT from the memory limit", c.Env)
	}
	if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Error("probes do not use /readyz and /healthz")
	}
	var policyCM corev1.ConfigMap
	if err := yaml.UnmarshalStrict(docs["ConfigMap/digitops-policy"], &policyCM); err != nil {
		t.Fatalf("policy ConfigMap: %v", err)
	}
	if _, err := policy.Parse("policy.yaml", []byte(policyCM.Data["policy.yaml"])); err != nil {
		t.Errorf("the chart's policy file does not parse: %v\n%s", err, policyCM.Data["policy.yaml"])
	}
	if !strings.Contains(string(docs["Deployment/digitops"]), "mountPath: /etc/digitops/policy") || dep.Spec.Template.Annotations["checksum/policy"] == "" {
		t.Error("policy: the Deployment should mount the policy ConfigMap and restart when it changes")
	}
	var role rbacv1.Role
	if err := yaml.UnmarshalStrict(docs["Role/digitops-leader-election"], &role); err != nil {
		t.Fatal(err)
	}
	if role.Rules[0].Resources[0] != "leases" {
		t.Errorf("leader election role: %+v", role.Rules)
	}

	var token corev1.Secret
	if err := yaml.UnmarshalStrict(docs["Secret/digitops-api-token"], &token); err != nil {
		t.Fatal(err)
	}
	if len(token.Data["token"]) < 32 {
		t.Errorf("API token Secret: %d bytes of token, want a random one of 40", len(token.Data["token"]))
	}

	// Your own token Secret: none created, yours mounted.
	docs = render(t, map[string]any{"apiToken": map[string]any{"existingSecret": "mine"}})
	if docs["Secret/digitops-api-token"] != nil || !strings.Contains(string(docs["Deployment/digitops"]), "secretName: mine") {
		t.Error("apiToken.existingSecret: the chart should mount that Secret and create none")
	}

	// Leader election off: no Role, no flag.
	docs = render(t, map[string]any{"leaderElection": map[string]any{"enabled": false}, "replicas": 1})
	if docs["Role/digitops-leader-election"] != nil {
		t.Error("leader election Role rendered with leader election off")
	}
	if strings.Contains(string(docs["Deployment/digitops"]), "--leader-elect") {
		t.Error("--leader-elect with leader election off")
	}
}

// metricNames returns the names of the series the metrics package exports
// (histograms with their _bucket, _sum and _count).
func metricNames(t *testing.T) map[string]bool {
	t.Helper()
	var reg capture
	metrics.New(&reg)
	names := map[string]bool{}
	re := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for _, d := range reg.descs {
		m := re.FindStringSubmatch(d.String())
		if m == nil {
			continue
		}
		names[m[1]] = true
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			names[m[1]+suffix] = true
		}
	}
	if len(names) < 10 {
		t.Fatalf("found only %d metric names", len(names))
	}
	return names
}

// capture is a Registerer that keeps the descriptions of what is registered.
type capture struct{ descs []*prometheus.Desc }

func (c *capture) Register(col prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 16)
	go func() { col.Describe(ch); close(ch) }()
	for d := range ch {
		c.descs = append(c.descs, d)
	}
	return nil
}

func (c *capture) MustRegister(cols ...prometheus.Collector) {
	for _, col := range cols {
		_ = c.Register(col)
	}
}

func (c *capture) Unregister(prometheus.Collector) bool { return false }

var usedMetric = regexp.MustCompile(`digitops_[a-z_]+`)

// checkNames fails for every digitops_ name in text the metrics package
// does not export.
func checkNames(t *testing.T, file, text string, known map[string]bool) {
	t.Helper()
	used := usedMetric.FindAllString(text, -1)
	if len(used) == 0 {
		t.Errorf("%s uses no digitops metric", file)
	}
	for _, name := range used {
		if !known[name] {
			t.Errorf("%s uses %s, which digitops does not export", file, name)
		}
	}
}

// TestChart_shard: shard: true runs serve --shard (not --leader-elect)
// with the address and identity from the downward API, the Leases and
// the suspensions ConfigMap allowed, and a PodDisruptionBudget.
func TestChart_shard(t *testing.T) {
	docs := render(t, map[string]any{"shard": true, "replicas": 3})
	var dep appsv1.Deployment
	if err := yaml.UnmarshalStrict(docs["Deployment/digitops"], &dep); err != nil {
		t.Fatalf("Deployment: %v", err)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	args := strings.Join(c.Args, " ")
	if !strings.Contains(args, "--shard") || strings.Contains(args, "--leader-elect ") || !strings.Contains(args, "--leader-election-namespace=digitops-system") {
		t.Errorf("container args: %s", args)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			env[e.Name] = e.ValueFrom.FieldRef.FieldPath
		}
	}
	if env["POD_NAME"] != "metadata.name" || env["POD_IP"] != "status.podIP" {
		t.Errorf("downward API env: %v", env)
	}
	if *dep.Spec.Replicas != 3 {
		t.Errorf("replicas %d", *dep.Spec.Replicas)
	}
	var role rbacv1.Role
	if err := yaml.UnmarshalStrict(docs["Role/digitops-leader-election"], &role); err != nil {
		t.Fatalf("shard needs the Lease role: %v", err)
	}
	if !strings.Contains(string(docs["Role/digitops-state"]), "digitops-suspensions") {
		t.Errorf("the state role does not allow the suspensions ConfigMap:\n%s", docs["Role/digitops-state"])
	}
	pdb := string(docs["PodDisruptionBudget/digitops"])
	if !strings.Contains(pdb, "maxUnavailable: 1") {
		t.Errorf("PodDisruptionBudget: %q", pdb)
	}
	if one := render(t, map[string]any{"replicas": 1}); one["PodDisruptionBudget/digitops"] != nil {
		t.Error("one replica should get no PodDisruptionBudget")
	}
}

func TestDashboardAndRules_useRealMetrics(t *testing.T) {
	known := metricNames(t)
	data, err := os.ReadFile("grafana/digitops-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			checkNames(t, "dashboard panel "+p.Title, tg.Expr, known)
		}
	}
	data, err = os.ReadFile("prometheus/digitops-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		APIVersion string         `json:"apiVersion"`
		Kind       string         `json:"kind"`
		Metadata   map[string]any `json:"metadata"`
		Spec       struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Alert       string            `json:"alert"`
					Expr        string            `json:"expr"`
					For         string            `json:"for"`
					Labels      map[string]string `json:"labels"`
					Annotations map[string]string `json:"annotations"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(data, &rules); err != nil {
		t.Fatalf("rules: %v", err)
	}
	alerts := map[string]bool{}
	for _, g := range rules.Spec.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			checkNames(t, "alert "+r.Alert, r.Expr, known)
		}
	}
	for _, want := range []string{"DigitopsSyncFailing", "DigitopsReleaseDrifted", "DigitopsSourceFetchFailing"} {
		if !alerts[want] {
			t.Errorf("no alert %s", want)
		}
	}
}

// TestChart_stateRole: the -state Role lets the daemon get and update the
// rollouts' ConfigMap and the sync history ConfigMap of each environment
// source.environments lists, by the names the daemon gives them
// (history.ConfigMapName, made again in the template); without a list,
// any ConfigMap of the namespace.
func TestChart_stateRole(t *testing.T) {
	envs := []string{"egov-demo", "Prod_EU.1", "日本", strings.Repeat("long-name-", 8)}
	var list []any
	want := []string{"digitops-rollouts"}
	for _, e := range envs {
		list = append(list, e)
		want = append(want, history.ConfigMapName(e))
	}
	role := func(vals map[string]any) rbacv1.Role {
		t.Helper()
		var r rbacv1.Role
		if err := yaml.UnmarshalStrict(render(t, vals)["Role/digitops-state"], &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	getUpdate := func(rule rbacv1.PolicyRule) bool {
		return strings.Join(rule.Resources, ",") == "configmaps" && strings.Join(rule.Verbs, ",") == "get,update"
	}
	r := role(map[string]any{"source": map[string]any{"environments": list}})
	for _, rule := range r.Rules {
		if getUpdate(rule) && len(rule.ResourceNames) == 0 {
			t.Errorf("with the environments listed, a rule lets the daemon update any ConfigMap: %+v", rule)
		}
	}
	if got := r.Rules[0].ResourceNames; !getUpdate(r.Rules[0]) || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("state Role names %v, want %v", got, want)
	}
	r = role(map[string]any{})
	covered := false
	for _, rule := range r.Rules {
		covered = covered || (getUpdate(rule) && len(rule.ResourceNames) == 0)
	}
	if !covered {
		t.Errorf("without source.environments the state Role does not cover the history ConfigMaps: %+v", r.Rules)
	}
}
