package reconciler

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/digitops/digitops/internal/fsutil"
)

// corpusQuickstartEnvFile is the environment file of corpusQuickstartRepo.
const corpusQuickstartEnvFile = "deploy-as-code/helm/environments/quickstart-config.yaml"

// corpusQuickstartRepo copies the real DIGIT-DevOps branch unified-env
// into a new repository with one environment, quickstart: its
// quickstart-config environment file and the v2.7 quickstart release
// chart, the lines of extra added to the entry. It skips, saying so, when
// the corpus is not beside the checkout.
func corpusQuickstartRepo(t *testing.T, extra string) string {
	t.Helper()
	corpus, err := filepath.Abs("../../shared/digit-devops-corpus/unified-env")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(corpus, "deploy-as-code")); err != nil {
		t.Skipf("skipping: the DIGIT-DevOps corpus (branch unified-env) is not at %s", corpus)
	}
	repo := t.TempDir()
	for _, dir := range []string{"deploy-as-code", "config-as-code"} {
		if err := fsutil.CopyTree(filepath.Join(corpus, dir), filepath.Join(repo, dir)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, "digitops.yaml"), []byte(`environments:
  - name: quickstart
    layout: digit
    chartsDir: deploy-as-code/helm/charts
    envFile: `+corpusQuickstartEnvFile+`
    secretsFile: deploy-as-code/helm/environments/quickstart-config-secrets.yaml
    releaseChart: config-as-code/product-release-charts/DIGIT/dependancy_chart-quickstart-v2.7.yaml
    clusterConfigs: true
`+extra), 0o644); err != nil {
		t.Fatal(err)
	}
	return repo
}
