package digit_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/digit"
	"github.com/digitops/digitops/source/manifest/sops"
	"github.com/digitops/digitops/source/manifest/sops/sopstest"
)

// Files of the DIGIT-DevOps sample (../shared/digit-devops-sample, beside
// the repository), relative to the sample.
const (
	sampleReleaseChart = "config-as-code/product-release-charts/DIGIT/dependancy_chart-digit-v2.9.2.yaml"
	sampleEnvFile      = "deploy-as-code/helm/environments/egov-demo.yaml"
	sampleSecretsFile  = "deploy-as-code/helm/environments/egov-demo-secrets.yaml"
	sampleChartsDir    = "deploy-as-code/helm/charts"
)

// sampleDir returns the sample, or skips the test when it is not there.
func sampleDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(moduleRoot(t), "..", "shared", "digit-devops-sample")
	for _, f := range []string{sampleReleaseChart, sampleEnvFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Skip("skipping: ../shared/digit-devops-sample not present (" + f + ")")
		}
	}
	return dir
}

// loadDirect runs the layout and the validation the loader runs, with a
// configuration that lives outside the repository (the sample is read as
// it is: digitops.yaml is not part of it).
func loadDirect(t *testing.T, repo string, ec manifest.EnvironmentConfig) (*manifest.Environment, error) {
	t.Helper()
	ec.Layout = manifest.LayoutDigit
	in := manifest.LayoutInput{RepoDir: repo, ConfigFile: "digitops.yaml", Env: ec, Secrets: manifest.SecretsDecrypt, Decrypter: sops.Decrypter{}}
	rels, err := digit.Layout{}.Releases(context.Background(), in)
	if err != nil {
		return nil, err
	}
	ordered, err := manifest.Validate(in.ConfigFile, rels)
	if err != nil {
		return nil, err
	}
	return &manifest.Environment{Name: ec.Name, Layout: ec.Layout, RepoDir: repo, Releases: ordered}, nil
}

func sampleConfig() manifest.EnvironmentConfig {
	return manifest.EnvironmentConfig{
		Name:           "egov-demo",
		ChartsDir:      sampleChartsDir,
		EnvFile:        sampleEnvFile,
		SecretsFile:    sampleSecretsFile,
		ReleaseChart:   sampleReleaseChart,
		ClusterConfigs: true,
	}
}

// TestSample_asIs reads the sample as it is. Its Go-layout charts dir holds
// only cluster-configs: every service of the release chart is in error alone
// (the Go deployer stops at the first with "Service chart not found"), each
// with its line, and cluster-configs loads.
func TestSample_asIs(t *testing.T) {
	repo := sampleDir(t)
	sopstest.IsolateKeys(t)
	env, err := loadDirect(t, repo, sampleConfig())
	if err != nil {
		t.Fatalf("the sample failed as a whole: %v", err)
	}
	errs := env.Errors()
	if len(errs) == 0 || len(errs) != len(env.Releases)-1 {
		t.Fatalf("%d of %d releases in error, want all but cluster-configs", len(errs), len(env.Releases))
	}
	var b strings.Builder
	for _, r := range errs {
		b.WriteString(r.Err.Error() + "\n")
		var me *manifest.Error
		if !errors.As(r.Err, &me) || me.Line == 0 || me.Release != r.Name {
			t.Errorf("release %s: want a manifest.Error with a line and the release, got %#v", r.Name, r.Err)
		}
	}
	golden(t, "sample-as-is.error.txt", []byte(b.String()))
	first := sampleReleaseChart + `:5: release "kafka-kraft": service kafka-kraft: no chart under ` + sampleChartsDir
	if !strings.HasPrefix(b.String(), first) {
		t.Errorf("the errors do not start with %q:\n%s", first, b.String())
	}
}

// TestSample_clusterConfigsOnly loads the sample's cluster-configs chart
// with the env and secrets files (no release chart): the secrets are layered
// on it and masked.
func TestSample_clusterConfigsOnly(t *testing.T) {
	repo := sampleDir(t)
	sopstest.IsolateKeys(t)
	ec := sampleConfig()
	ec.ReleaseChart = ""
	env, err := loadDirect(t, repo, ec)
	if err != nil {
		t.Fatal(err)
	}
	if len(env.Releases) != 1 || env.Releases[0].Name != "cluster-configs" || env.Releases[0].Namespace != "egov" {
		t.Fatalf("releases = %+v", env.Releases)
	}
	r := env.Releases[0]
	secrets := r.MergedValues()["cluster-configs"].(map[string]any)["secrets"].(map[string]any)
	if secrets["db"].(map[string]any)["password"] != "test1234" {
		t.Errorf("the secrets file is not layered on cluster-configs")
	}
	masked := mask(r.MergedValues(), r.SecretValues)
	if got := masked["cluster-configs"].(map[string]any)["secrets"].(map[string]any)["db"].(map[string]any)["password"]; got != "***" {
		t.Errorf("db password not masked: %v", got)
	}
}

// TestSample_withCharts lays the sample out as a complete Go-layout repo in
// a temporary directory: its files, the service charts the sample carries
// (under charts/core-services, where the Go layout keeps them) and an empty
// stub chart for every other service of the release chart. The golden shows
// the releases, namespaces, tags, needs and the values each release gets on
// top of egov-demo.yaml.
func TestSample_withCharts(t *testing.T) {
	sample := sampleDir(t)
	sopstest.IsolateKeys(t)
	repo := t.TempDir()
	copyTree := func(from, to string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(repo, to)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(filepath.Join(repo, to), os.DirFS(filepath.Join(sample, from))); err != nil {
			t.Fatal(err)
		}
	}
	copyTree("config-as-code", "config-as-code")
	copyTree("deploy-as-code/helm", "deploy-as-code/helm")
	copyTree("deploy-as-code/charts/common", sampleChartsDir+"/common")
	entries, err := os.ReadDir(filepath.Join(sample, "deploy-as-code/charts/core-services"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			copyTree("deploy-as-code/charts/core-services/"+e.Name(), sampleChartsDir+"/core-services/"+e.Name())
		}
	}
	rc, err := digit.ReadReleaseChart(context.Background(), nil, filepath.Join(sample, sampleReleaseChart), sampleReleaseChart)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range rc.Modules {
		for _, s := range m.Services {
			dir := filepath.Join(repo, sampleChartsDir)
			if found, _ := filepath.Glob(filepath.Join(dir, "*", s.Name, "values.yaml")); len(found) > 0 {
				continue
			}
			stub := filepath.Join(dir, "stubs", s.Name)
			if err := os.MkdirAll(stub, 0o755); err != nil {
				t.Fatal(err)
			}
			chart := "apiVersion: v2\nname: " + s.Name + "\nversion: 0.1.0\n"
			if err := os.WriteFile(filepath.Join(stub, "Chart.yaml"), []byte(chart), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(stub, "values.yaml"), []byte("{}\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	env, err := loadDirect(t, repo, sampleConfig())
	if err != nil {
		t.Fatal(err)
	}
	base, err := manifest.ReadValuesFile(context.Background(), nil, filepath.Join(repo, sampleEnvFile), sampleEnvFile)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "sample-with-charts.golden.yaml", render(t, env, renderOptions{base: base}))

	// m_pgr alone pulls in everything it depends on: all but nothing here,
	// since m_pgr depends (transitively) on every other module.
	ec := sampleConfig()
	ec.Modules = []string{"m_pgr"}
	sel, err := loadDirect(t, repo, ec)
	if err != nil {
		t.Fatal(err)
	}
	if len(sel.Releases) != len(env.Releases) {
		t.Errorf("m_pgr: %d releases, want %d (all modules are its dependencies)", len(sel.Releases), len(env.Releases))
	}
	// core alone: cluster-configs, backbone, authn-authz and core.
	ec.Modules = []string{"core"}
	core, err := loadDirect(t, repo, ec)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range core.Releases {
		switch r.Labels[digit.ModuleLabel] {
		case "cluster-configs", "backbone", "authn-authz", "core":
		default:
			t.Errorf("core selected, but %s of module %s is deployed", r.Name, r.Labels[digit.ModuleLabel])
		}
	}
}
