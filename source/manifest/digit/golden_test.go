package digit_test

import (
	"context"
	"flag"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	goldenfile "github.com/digitops/digitops/internal/golden"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/loader"
	"github.com/digitops/digitops/source/manifest/sops/sopstest"
)

var update = flag.Bool("update", false, "rewrite the golden files (and the example's test-only age key and encrypted secrets when missing or stale)")

// moduleRoot is the repository root of digitops, found from this file.
func moduleRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot find the test's source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

func exampleDir(t *testing.T) string {
	return filepath.Join(moduleRoot(t), "examples", "digit")
}

// renderOptions say how an Environment is printed in a golden file.
type renderOptions struct {
	// base, when set, prints each release's values as the difference from
	// base (the environment file), to keep goldens of big files readable.
	base map[string]any
}

// render prints what a golden test checks of an Environment: names,
// namespaces, charts relative to the repository, labels, tags, needs and the
// values with every secret value masked.
func render(t *testing.T, env *manifest.Environment, opts renderOptions) []byte {
	t.Helper()
	type release struct {
		Name             string            `json:"name"`
		Namespace        string            `json:"namespace"`
		Chart            string            `json:"chart"`
		Source           string            `json:"source"`
		Labels           map[string]string `json:"labels,omitempty"`
		Images           []string          `json:"images,omitempty"`
		KeepLiveImageTag bool              `json:"keepLiveImageTag,omitempty"`
		Needs            []string          `json:"needs,omitempty"`
		MaskedSecrets    int               `json:"maskedSecrets,omitempty"`
		Values           map[string]any    `json:"values"`
	}
	out := struct {
		Environment string              `json:"environment"`
		Layout      manifest.LayoutName `json:"layout"`
		Releases    []release           `json:"releases"`
	}{Environment: env.Name, Layout: env.Layout}
	for _, r := range env.Releases {
		chart, err := filepath.Rel(env.RepoDir, r.Chart.Path)
		if err != nil {
			t.Fatal(err)
		}
		vals := mask(r.MergedValues(), r.SecretValues)
		if opts.base != nil {
			vals = diffValues(vals, opts.base)
		}
		out.Releases = append(out.Releases, release{
			Name: r.Name, Namespace: r.Namespace, Chart: filepath.ToSlash(chart), Source: r.Source,
			Labels: r.Labels, Images: r.Images, KeepLiveImageTag: r.KeepLiveImageTag, Needs: r.Needs,
			MaskedSecrets: len(r.SecretValues), Values: vals,
		})
	}
	b, err := sigsyaml.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mask returns a copy of v with every string in secrets replaced by ***.
func mask(v map[string]any, secrets []string) map[string]any {
	set := map[string]bool{}
	for _, s := range secrets {
		set[s] = true
	}
	var walk func(x any) any
	walk = func(x any) any {
		switch t := x.(type) {
		case map[string]any:
			m := make(map[string]any, len(t))
			for k, c := range t {
				m[k] = walk(c)
			}
			return m
		case []any:
			l := make([]any, len(t))
			for i, c := range t {
				l[i] = walk(c)
			}
			return l
		case string:
			if set[t] {
				return "***"
			}
		}
		return x
	}
	return walk(v).(map[string]any)
}

// diffValues returns the parts of v that differ from base.
func diffValues(v, base map[string]any) map[string]any {
	out := map[string]any{}
	for k, x := range v {
		b, ok := base[k]
		if xm, isMap := x.(map[string]any); isMap && ok {
			if bm, ok := b.(map[string]any); ok {
				if d := diffValues(xm, bm); len(d) > 0 {
					out[k] = d
				}
				continue
			}
		}
		if !ok || !reflect.DeepEqual(x, b) {
			out[k] = x
		}
	}
	return out
}

// golden compares got with testdata/<name>, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name), got, *update)
}

func loadExample(t *testing.T, env string, mode manifest.SecretsMode) *manifest.Environment {
	t.Helper()
	e, err := loader.Environment(context.Background(), loader.Options{RepoDir: exampleDir(t), Secrets: mode}, env)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestExample_golden: the example's environments, the SOPS one in
// placeholder mode (decrypting it is TestExample_sopsMatchesPlain of source/manifest/sops).
func TestExample_golden(t *testing.T) {
	tests := []struct {
		env    string               // environment of examples/digit/digitops.yaml
		mode   manifest.SecretsMode // secrets mode
		golden string               // file under testdata
	}{
		{env: "demo", mode: manifest.SecretsDecrypt, golden: "example-demo.golden.yaml"},
		{env: "demo-sops", mode: manifest.SecretsPlaceholder, golden: "example-demo-sops-placeholder.golden.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			sopstest.IsolateKeys(t)
			golden(t, tt.golden, render(t, loadExample(t, tt.env, tt.mode), renderOptions{}))
		})
	}
}
