package digit_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"

	goldenfile "github.com/digitops/digitops/internal/golden"

	"filippo.io/age"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/loader"
	"github.com/digitops/digitops/source/manifest/sops"
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

// Paths of the example repository, relative to it.
const (
	exampleKeyFile   = "TEST-ONLY-age-key.txt"
	examplePlain     = "deploy-as-code/helm/environments/demo-secrets.yaml"
	exampleEncrypted = "deploy-as-code/helm/environments/demo-secrets.enc.yaml"
	exampleSopsRules = "deploy-as-code/helm/.sops.yaml"
)

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
		vals := mask(r.Values, r.SecretValues)
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

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g
		}
	}
	return ""
}

// ensureExampleSecrets makes sure the example's test-only age key and its
// encrypted secrets file exist and match the plain secrets file; with
// -update it (re)creates them, otherwise it fails.
func ensureExampleSecrets(t *testing.T) {
	t.Helper()
	dir := exampleDir(t)
	keyPath := filepath.Join(dir, exampleKeyFile)
	encPath := filepath.Join(dir, exampleEncrypted)
	plain, err := os.ReadFile(filepath.Join(dir, examplePlain))
	if err != nil {
		t.Fatal(err)
	}
	wantVals, err := manifest.ParseValues(plain, examplePlain)
	if err != nil {
		t.Fatal(err)
	}
	fresh := func() bool {
		if _, err := os.Stat(keyPath); err != nil {
			return false
		}
		sopstest.IsolateKeys(t, "SOPS_AGE_KEY_FILE", keyPath)
		got, _, err := sops.Decrypter{}.DecryptValues(context.Background(), encPath, exampleEncrypted, manifest.SecretsDecrypt)
		return err == nil && reflect.DeepEqual(got, wantVals)
	}
	if fresh() {
		return
	}
	if !*update {
		t.Fatalf("%s is missing or does not decrypt to %s with %s: run go test -update", exampleEncrypted, examplePlain, exampleKeyFile)
	}
	var id *age.X25519Identity
	if data, err := os.ReadFile(keyPath); err == nil {
		ids, err := age.ParseIdentities(bytes.NewReader(data))
		if err != nil || len(ids) != 1 {
			t.Fatalf("%s: %v", keyPath, err)
		}
		id = ids[0].(*age.X25519Identity)
	} else {
		if id, err = age.GenerateX25519Identity(); err != nil {
			t.Fatal(err)
		}
		key := "# TEST-ONLY age key of the digitops example repository. It protects\n" +
			"# nothing: never use it (or anything encrypted for it) for real secrets.\n" +
			"# public key: " + id.Recipient().String() + "\n" + id.String() + "\n"
		if err := os.WriteFile(keyPath, []byte(key), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	enc, err := sops.EncryptAge(plain, id.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(encPath, enc, 0o644); err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(dir, exampleSopsRules)
	data, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "age:") {
			lines[i] = l[:strings.Index(l, "age:")] + "age: " + id.Recipient().String()
		}
	}
	if err := os.WriteFile(rules, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if !fresh() {
		t.Fatal("the regenerated encrypted secrets do not decrypt")
	}
}

func loadExample(t *testing.T, env string, mode manifest.SecretsMode) *manifest.Environment {
	t.Helper()
	e, err := loader.Environment(context.Background(), loader.Options{RepoDir: exampleDir(t), Secrets: mode}, env)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestExample_golden(t *testing.T) {
	ensureExampleSecrets(t)
	tests := []struct {
		env    string               // environment of examples/digit/digitops.yaml
		mode   manifest.SecretsMode // secrets mode
		keys   bool                 // whether the test-only age key is at hand
		golden string               // file under testdata
	}{
		{env: "demo", mode: manifest.SecretsDecrypt, keys: false, golden: "example-demo.golden.yaml"},
		{env: "demo-sops", mode: manifest.SecretsDecrypt, keys: true, golden: "example-demo-sops.golden.yaml"},
		{env: "demo-sops", mode: manifest.SecretsPlaceholder, keys: false, golden: "example-demo-sops-placeholder.golden.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			if tt.keys {
				sopstest.IsolateKeys(t, "SOPS_AGE_KEY_FILE", filepath.Join(exampleDir(t), exampleKeyFile))
			} else {
				sopstest.IsolateKeys(t)
			}
			golden(t, tt.golden, render(t, loadExample(t, tt.env, tt.mode), renderOptions{}))
		})
	}
}

// TestExample_sopsMatchesPlain: decrypting the age file gives the same
// environment as the plain file.
func TestExample_sopsMatchesPlain(t *testing.T) {
	ensureExampleSecrets(t)
	sopstest.IsolateKeys(t, "SOPS_AGE_KEY_FILE", filepath.Join(exampleDir(t), exampleKeyFile))
	full := loadExample(t, "demo", manifest.SecretsDecrypt)
	enc := loadExample(t, "demo-sops", manifest.SecretsDecrypt)
	a, _ := full.Release("cluster-configs")
	b, _ := enc.Release("cluster-configs")
	if !reflect.DeepEqual(a.Values, b.Values) || !reflect.DeepEqual(a.SecretValues, b.SecretValues) {
		t.Errorf("cluster-configs values differ between the plain and the encrypted secrets")
	}
}

// TestExample_missingKey: without the key cluster-configs (the one release
// that reads the secrets file) is in error, naming the file and the age
// recipient; the other releases load.
func TestExample_missingKey(t *testing.T) {
	ensureExampleSecrets(t)
	sopstest.IsolateKeys(t)
	env, err := loader.Environment(context.Background(), loader.Options{RepoDir: exampleDir(t)}, "demo-sops")
	if err != nil {
		t.Fatalf("the environment failed as a whole: %v", err)
	}
	errs := env.Errors()
	if len(errs) != 1 || errs[0].Name != "cluster-configs" {
		t.Fatalf("releases in error: %v, want cluster-configs alone", errs)
	}
	err = errs[0].Err
	if !strings.Contains(err.Error(), exampleEncrypted+": cannot decrypt") || !strings.Contains(err.Error(), "age age1") {
		t.Errorf("err = %v", err)
	}
}
