package helmfile

import (
	"context"
	"flag"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	goldenfile "github.com/digitops/digitops/internal/golden"
	"github.com/digitops/digitops/source/manifest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// repoRoot is the module root, found from this file.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// loadEnv loads one environment of a repository's digitops.yaml with this
// layout and validates it as the loader does.
func loadEnv(t *testing.T, repo, name string, dec manifest.Decrypter) ([]manifest.ReleaseSpec, error) {
	t.Helper()
	cfg, err := manifest.ReadConfig(filepath.Join(repo, manifest.ConfigFileName))
	if err != nil {
		return nil, err
	}
	ec, err := cfg.Environment(name)
	if err != nil {
		return nil, err
	}
	rels, err := Layout{Logger: quietLogger()}.Releases(context.Background(), manifest.LayoutInput{
		RepoDir: repo, ConfigFile: manifest.ConfigFileName, Env: ec, Secrets: manifest.SecretsDecrypt, Decrypter: dec,
	})
	if err != nil {
		return nil, err
	}
	return manifest.Validate(manifest.ConfigFileName, rels)
}

// goldenRelease is what the golden files show of a release.
type goldenRelease struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Chart     string            `json:"chart"`
	Source    string            `json:"source"`
	Needs     []string          `json:"needs,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Values    map[string]any    `json:"values"`
	Secrets   int               `json:"secretValues,omitempty"`
}

// golden renders releases for a golden file: charts relative to the
// repository, secret strings masked.
func golden(t *testing.T, repo string, rels []manifest.ReleaseSpec) []byte {
	t.Helper()
	out := make([]goldenRelease, 0, len(rels))
	for _, r := range rels {
		chart := r.Chart.String()
		if r.Chart.Path != "" {
			rel, err := filepath.Rel(repo, r.Chart.Path)
			if err != nil {
				t.Fatal(err)
			}
			chart = filepath.ToSlash(rel)
		}
		secret := map[string]bool{}
		for _, s := range r.SecretValues {
			secret[s] = true
		}
		out = append(out, goldenRelease{
			Name: r.Name, Namespace: r.Namespace, Chart: chart, Source: r.Source,
			Needs: r.Needs, Labels: r.Labels, Values: mask(r.Values, secret).(map[string]any), Secrets: len(r.SecretValues),
		})
	}
	b, err := sigsyaml.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mask(v any, secret map[string]bool) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = mask(e, secret)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = mask(e, secret)
		}
		return out
	case string:
		if secret[x] {
			return "***"
		}
	}
	return v
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), got, *update)
}

func TestExample_golden(t *testing.T) {
	repo := filepath.Join(repoRoot(t), "examples", "helmfile")
	rels, err := loadEnv(t, repo, "demo", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := golden(t, repo, rels)
	if strings.Contains(string(got), "example-db-password") || strings.Contains(string(got), "example-jwt-signing-key") {
		t.Errorf("a secret is not masked:\n%s", got)
	}
	checkGolden(t, "example.golden.yaml", got)
}
