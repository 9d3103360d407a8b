package helmfile

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/digitops/digitops/source/manifest"
)

// sampleDir returns ../shared/digit-devops-sample (beside the checkout),
// found from this package's directory, or skips the test.
func sampleDir(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	// source/manifest/helmfile -> the repository root -> its parent.
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "shared", "digit-devops-sample")
	if _, err := os.Stat(filepath.Join(dir, "deploy-as-code", "digit-helmfile.yaml")); err != nil {
		t.Skip("skipping: ../shared/digit-devops-sample not present")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func loadSample(t *testing.T, helmfile string, selectors ...string) ([]manifest.ReleaseSpec, error) {
	t.Helper()
	repo := sampleDir(t)
	return Layout{Logger: quietLogger()}.Releases(context.Background(), manifest.LayoutInput{
		RepoDir:    repo,
		ConfigFile: "digitops.yaml",
		Env:        manifest.EnvironmentConfig{Name: "sample", Layout: manifest.LayoutHelmfile, Helmfile: helmfile, Selector: selectors},
		Secrets:    manifest.SecretsDecrypt,
	})
}

// The root helmfile fails: the backbone charts (bitnami postgresql, kafka
// and others) are not in the repository, and the error says so for each.
func TestSample_rootHelmfileBackboneChartsAbsent(t *testing.T) {
	_, err := loadSample(t, "deploy-as-code/digit-helmfile.yaml")
	if err == nil {
		t.Fatal("want an error: the backbone charts are absent")
	}
	msg := err.Error()
	t.Log(msg)
	for _, want := range []string{
		`deploy-as-code/charts/backbone-services/backboneservices-helmfile.yaml:15: release "cert-manager": chart "./cert-manager" does not exist: no deploy-as-code/charts/backbone-services/cert-manager/Chart.yaml in the repository`,
		`release "postgresql": chart "./postgresql" does not exist`,
		`release "kafka-kraft": chart "./kafka-kraft" does not exist`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not contain %q", want)
		}
	}
}

// The sample keeps five of the core-services charts; selecting those (by
// helmfile's implicit name label) loads the core helmfile alone. Needs of
// releases left out by the selectors are dropped, as helmfile does.
func TestSample_coreServicesHelmfileLoads(t *testing.T) {
	present := []string{"name=configmaps", "name=egov-user", "name=egov-mdms-service", "name=pgr-services", "name=digit-ui"}
	rels, err := loadSample(t, "deploy-as-code/charts/core-services/coreservices-helmfile.yaml", present...)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rels {
		names = append(names, r.Name)
	}
	want := "egov-mdms-service egov-user configmaps digit-ui pgr-services"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("releases = %s, want %s", got, want)
	}
	repo := sampleDir(t)
	for _, r := range rels {
		if r.Namespace != "egov" {
			t.Errorf("%s: namespace %q, want egov", r.Name, r.Namespace)
		}
		// chart: ./{{`{{ .Release.Name }}`}} from the template, per release.
		wantChart := filepath.Join(repo, "deploy-as-code/charts/core-services", r.Name)
		if r.Chart.Path != wantChart {
			t.Errorf("%s: chart %q, want %q", r.Name, r.Chart.Path, wantChart)
		}
		if r.Source != "deploy-as-code/charts/core-services/coreservices-helmfile.yaml" {
			t.Errorf("%s: source %q", r.Name, r.Source)
		}
		// env-secrets.yaml then env.yaml, from the template's values.
		if _, ok := r.Values["secrets"]; !ok {
			t.Errorf("%s: no secrets: key from env-secrets.yaml", r.Name)
		}
		if g, ok := r.Values["global"].(map[string]any); !ok || g["domain"] == nil {
			t.Errorf("%s: no global.domain from env.yaml", r.Name)
		}
	}
	// egov-user needs egov-enc-service, which the selectors leave out.
	for _, r := range rels {
		if len(r.Needs) != 0 {
			t.Errorf("%s: needs %v, want none (targets not selected)", r.Name, r.Needs)
		}
	}
}

// Without selectors the core helmfile names every absent chart.
func TestSample_coreServicesAbsentCharts(t *testing.T) {
	_, err := loadSample(t, "deploy-as-code/charts/core-services/coreservices-helmfile.yaml")
	if err == nil {
		t.Fatal("want an error: most core charts are not in the sample")
	}
	want := `deploy-as-code/charts/core-services/coreservices-helmfile.yaml:23: release "egov-enc-service": chart "./egov-enc-service" does not exist`
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error does not contain %q:\n%v", want, err)
	}
	if strings.Contains(err.Error(), `release "egov-user"`) {
		t.Errorf("egov-user's chart is present, yet named:\n%v", err)
	}
}
