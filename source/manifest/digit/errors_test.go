package digit_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/digit"
	"github.com/digitops/digitops/source/manifest/loader"
	"github.com/digitops/digitops/source/manifest/sops/sopstest"
)

const (
	exRelease = "config-as-code/product-release-charts/DEMO/release-chart-v1.0.0.yaml"
	exEnvFile = "deploy-as-code/helm/environments/demo.yaml"
	exCharts  = "deploy-as-code/helm/charts"
)

// TestLoad_badInputs loads a copy of the example with one thing broken and
// checks the message and where it lands: the whole environment fails only
// for its own files; a release that cannot be built is in error alone; what
// the Go deployer is lenient about is a warning.
func TestLoad_badInputs(t *testing.T) {
	tests := []struct {
		name   string            // the case
		env    string            // environment of digitops.yaml to load
		write  map[string]string // files to (over)write in the copy, by path
		remove []string          // paths to remove from the copy
		// release, when set, is the one release in error (the others
		// load); warn says the problem is a warning; neither: the
		// environment fails.
		release string
		warn    bool
		want    string // the error or warning must contain this
	}{
		{
			name:  "release chart YAML syntax",
			env:   "demo",
			write: map[string]string{exRelease: "modules:\n  - name: core\n    services: [a\n"},
			want:  exRelease + ":3: invalid YAML",
		},
		{
			name:  "bad image reference",
			env:   "demo",
			write: map[string]string{exRelease: "modules:\n  - name: core\n    services:\n      - example/Accounts:1.0\n"},
			want:  exRelease + `:4: bad image reference "example/Accounts:1.0"`,
		},
		{
			name:  "image digest",
			env:   "demo",
			write: map[string]string{exRelease: "modules:\n  - name: core\n    services:\n      - example/accounts@sha256:" + strings.Repeat("a", 64) + "\n"},
			want:  exRelease + ":4: bad image reference",
		},
		{
			name:  "unknown dependency",
			env:   "demo",
			write: map[string]string{exRelease: "modules:\n  - name: core\n    dependencies: [nope]\n    services: [example/accounts:1.0]\n"},
			warn:  true,
			want:  exRelease + `:3: module "core" depends on unknown module "nope" (modules: core); the dependency is ignored`,
		},
		{
			name: "dependency cycle",
			env:  "demo",
			write: map[string]string{exRelease: "modules:\n" +
				"  - name: a\n    dependencies: [b]\n    services: [example/accounts:1.0]\n" +
				"  - name: b\n    dependencies: [c]\n    services: [example/catalog:1.0]\n" +
				"  - name: c\n    dependencies: [a]\n    services: [example/portal:1.0]\n"},
			warn: true,
			want: exRelease + `:9: module dependency cycle: a -> b -> c -> a; "a" is deployed before "c" here`,
		},
		{
			name:  "duplicate module",
			env:   "demo",
			write: map[string]string{exRelease: "modules:\n  - name: a\n    services: [cache]\n  - name: a\n    services: [example/catalog:1.0]\n"},
			want:  exRelease + `:4: module "a" is declared twice (first on line 2)`,
		},
		{
			name:  "no modules",
			env:   "demo",
			write: map[string]string{exRelease: "version: v1\n"},
			want:  exRelease + ":1: no modules",
		},
		{
			name:    "service without a chart",
			env:     "demo",
			write:   map[string]string{exRelease: "modules:\n  - name: a\n    services:\n      - cache\n      - example/nochart:1.0\n"},
			release: "nochart",
			want:    exRelease + `:5: release "nochart": service example/nochart:1.0: no chart under ` + exCharts + ` has a values.yaml or nochart-values.yaml`,
		},
		{
			name:  "two tags for one service",
			env:   "demo",
			write: map[string]string{exRelease: "modules:\n  - name: a\n    services:\n      - example/catalog:1.0\n      - example/catalog-db:1.1\n"},
			warn:  true,
			want:  exRelease + `:5: release "catalog": listed twice with different tags: example/catalog:1.0 on line 4 and example/catalog-db:1.1 on line 5; example/catalog-db:1.1 is deployed, as the Go deployer leaves it (it deploys module a last)`,
		},
		{
			// The deployer's installer pushes each selected module to the
			// front of its list: m_b, selected after m_a, deploys first,
			// so m_a's tag is what it leaves running.
			name:  "two tags in two modules",
			env:   "demo",
			write: map[string]string{exRelease: "modules:\n  - name: m_a\n    services:\n      - example/catalog:1.0\n  - name: m_b\n    services:\n      - example/catalog:2.0\n"},
			warn:  true,
			want:  exRelease + `:7: release "catalog": listed twice with different tags: example/catalog:1.0 on line 4 and example/catalog:2.0 on line 7; example/catalog:1.0 is deployed, as the Go deployer leaves it (it deploys module m_a last)`,
		},
		{
			name:  "unknown selected module",
			env:   "demo",
			write: map[string]string{"digitops.yaml": strings.Replace(readExample(t, "digitops.yaml"), "clusterConfigs: true\n    cluster", "clusterConfigs: true\n    modules: [m_nope]\n    cluster", 1)},
			want:  `digitops.yaml:7: modules: unknown module(s) "m_nope" in ` + exRelease + " (it has: backbone, core, m_grievance, m_portal)",
		},
		{
			name:  "env file YAML syntax",
			env:   "demo",
			write: map[string]string{exEnvFile: "global:\n  domain: [x\n"},
			want:  exEnvFile + ":2: invalid YAML",
		},
		{
			name:    "namespace not a string",
			env:     "demo",
			write:   map[string]string{exEnvFile: "accounts:\n  namespace: [a, b]\n"},
			release: "accounts",
			want:    exEnvFile + `: release "accounts": namespace: want a string`,
		},
		{
			name:   "no cluster-configs chart",
			env:    "demo",
			remove: []string{exCharts + "/cluster-configs"},
			want:   `digitops.yaml:7: environment "demo": clusterConfigs is true but ` + exCharts + " has no cluster-configs chart",
		},
		{
			name:    "values.yaml without Chart.yaml",
			env:     "demo",
			remove:  []string{exCharts + "/core/catalog/Chart.yaml"},
			release: "catalog",
			want:    exRelease + `:14: release "catalog": ` + exCharts + "/core/catalog has no Chart.yaml (helm template fails there)",
		},
		{
			name:  "name defined twice",
			env:   "demo",
			write: map[string]string{exCharts + "/other/catalog/values.yaml": "{}\n", exCharts + "/other/catalog/Chart.yaml": "apiVersion: v2\nname: catalog\nversion: 0.1.0\n"},
			warn:  true,
			want:  exRelease + `:14: release "catalog": the charts dir defines the name more than once (` + exCharts + "/core/catalog, " + exCharts + "/other/catalog); the last one is used",
		},
		{
			name:   "missing env file",
			env:    "demo",
			remove: []string{exEnvFile},
			want:   `digitops.yaml:7: environment "demo": envFile: "` + exEnvFile + `" is not a file in the repository`,
		},
		{
			name:  "charts dir outside the repository",
			env:   "demo",
			write: map[string]string{"digitops.yaml": strings.Replace(readExample(t, "digitops.yaml"), "chartsDir: "+exCharts+"\n    envFile: "+exEnvFile+"\n    secretsFile: deploy-as-code/helm/environments/demo-secrets.yaml", "chartsDir: ../charts\n    envFile: "+exEnvFile+"\n    secretsFile: deploy-as-code/helm/environments/demo-secrets.yaml", 1)},
			want:  `digitops.yaml:7: environment "demo": chartsDir: path "../charts" leaves the repository`,
		},
		{
			name:  "modules without a release chart",
			env:   "demo",
			write: map[string]string{"digitops.yaml": strings.Replace(readExample(t, "digitops.yaml"), "    releaseChart: "+exRelease+"\n    clusterConfigs: true\n    cluster", "    modules: [core]\n    clusterConfigs: true\n    cluster", 1)},
			want:  `digitops.yaml:7: environment "demo": modules are chosen from a releaseChart, and none is set`,
		},
		{
			name:  "release chart nested too deep",
			env:   "demo",
			write: map[string]string{exRelease: "modules:\n  - name: core\n    services: " + strings.Repeat("[", 2000) + "\n"},
			want:  exRelease + ":3: YAML nested deeper than 1000 levels",
		},
		{
			// 60 KB of brackets took 1.5 GB in the parser that locates
			// syntax errors.
			name:  "environment file nested too deep",
			env:   "demo",
			write: map[string]string{exEnvFile: "global:\n  domain: x\nx: " + strings.Repeat("[", 30000) + strings.Repeat("]", 30000) + "\n"},
			want:  exEnvFile + ":3: YAML nested deeper than 1000 levels",
		},
		{
			name:    "encrypted secrets, no SOPS decryption linked",
			env:     "demo-sops",
			release: "cluster-configs",
			want:    "deploy-as-code/helm/environments/demo-secrets.enc.yaml: the file is SOPS-encrypted and this program decrypts no SOPS files",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sopstest.IsolateKeys(t)
			repo := t.TempDir()
			if err := os.CopyFS(repo, os.DirFS(exampleDir(t))); err != nil {
				t.Fatal(err)
			}
			for _, p := range tt.remove {
				if err := os.RemoveAll(filepath.Join(repo, p)); err != nil {
					t.Fatal(err)
				}
			}
			for p, data := range tt.write {
				if err := os.MkdirAll(filepath.Dir(filepath.Join(repo, p)), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(repo, p), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			env, err := loader.Environment(context.Background(), loader.Options{RepoDir: repo}, tt.env)
			got := problems(env, err)
			want := "environment: "
			switch {
			case tt.release != "":
				want = "release " + tt.release + ": "
			case tt.warn:
				want = "warning: "
			}
			if len(got) != 1 || !strings.HasPrefix(got[0], want) || !strings.Contains(got[0], tt.want) {
				t.Errorf("problems:\n  %s\nwant one, %q containing:\n  %s", strings.Join(got, "\n  "), want, tt.want)
			}
		})
	}
}

// problems lists what a load found, one line each: the environment's error,
// or its releases' errors and its warnings.
func problems(env *manifest.Environment, err error) []string {
	if err != nil {
		return []string{"environment: " + err.Error()}
	}
	var out []string
	for _, r := range env.Errors() {
		out = append(out, "release "+r.Name+": "+r.Err.Error())
	}
	for _, w := range env.Warnings {
		out = append(out, "warning: "+w.String())
	}
	return out
}

func readExample(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(exampleDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestLayout_plainSecretsWithoutDecrypter: with no Decrypter, plain secrets
// work and a SOPS file is refused.
func TestLayout_plainSecretsWithoutDecrypter(t *testing.T) {
	cfg, err := manifest.ReadConfig(filepath.Join(exampleDir(t), "digitops.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		env  string // environment to load
		want string // error message part; empty for success
	}{
		{env: "demo"},
		{env: "demo-sops", want: "demo-secrets.enc.yaml: the file is SOPS-encrypted but this build reads plain secrets only"},
	} {
		ec, err := cfg.Environment(tt.env)
		if err != nil {
			t.Fatal(err)
		}
		rels, err := digit.Layout{}.Releases(context.Background(), manifest.LayoutInput{RepoDir: exampleDir(t), ConfigFile: "digitops.yaml", Env: ec})
		for _, r := range rels {
			if r.Err != nil && err == nil {
				err = r.Err
			}
		}
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.env, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: err = %v, want %q", tt.env, err, tt.want)
		}
	}
}
