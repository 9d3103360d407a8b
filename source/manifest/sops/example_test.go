package sops_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/loader"
	"github.com/digitops/digitops/source/manifest/sops"
	"github.com/digitops/digitops/source/manifest/sops/sopslib"
	"github.com/digitops/digitops/source/manifest/sops/sopstest"
)

var update = flag.Bool("update", false, "rewrite the example's test-only age key and encrypted secrets when missing or stale")

// Paths of examples/digit, relative to it.
const (
	exampleKeyFile   = "TEST-ONLY-age-key.txt"
	examplePlain     = "deploy-as-code/helm/environments/demo-secrets.yaml"
	exampleEncrypted = "deploy-as-code/helm/environments/demo-secrets.enc.yaml"
	exampleSopsRules = "deploy-as-code/helm/.sops.yaml"
)

// exampleDir is examples/digit, found from this file.
func exampleDir(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot find the test's source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "examples", "digit")
}

func loadExample(t *testing.T, env string, mode manifest.SecretsMode) *manifest.Environment {
	t.Helper()
	e, err := loader.Environment(context.Background(), loader.Options{RepoDir: exampleDir(t), Secrets: mode, OpenSOPS: sopslib.Open}, env)
	if err != nil {
		t.Fatal(err)
	}
	return e
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
		got, _, err := sops.Decrypter{Open: sopslib.Open}.DecryptValues(context.Background(), encPath, exampleEncrypted, manifest.SecretsDecrypt)
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
	enc, err := sopslib.EncryptAge(plain, id.Recipient().String())
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

// TestExample_sopsMatchesPlain: decrypting the age file gives the same
// environment as the plain file.
func TestExample_sopsMatchesPlain(t *testing.T) {
	ensureExampleSecrets(t)
	sopstest.IsolateKeys(t, "SOPS_AGE_KEY_FILE", filepath.Join(exampleDir(t), exampleKeyFile))
	full := loadExample(t, "demo", manifest.SecretsDecrypt)
	enc := loadExample(t, "demo-sops", manifest.SecretsDecrypt)
	a, okA := full.Release("cluster-configs")
	b, okB := enc.Release("cluster-configs")
	if !okA || !okB || len(b.SecretValues) == 0 {
		t.Fatalf("cluster-configs: in the plain environment %t, in the decrypted one %t (with %d secrets)", okA, okB, len(b.SecretValues))
	}
	if !reflect.DeepEqual(a.MergedValues(), b.MergedValues()) || !reflect.DeepEqual(a.SecretValues, b.SecretValues) {
		t.Errorf("cluster-configs values differ between the plain and the encrypted secrets")
	}
	// The other releases are those of placeholder mode (the golden file of
	// source/manifest/digit), decrypted or not.
	ph := loadExample(t, "demo-sops", manifest.SecretsPlaceholder)
	if errs := enc.Errors(); len(errs) > 0 || len(enc.Releases) != len(ph.Releases) {
		t.Fatalf("decrypted: %d releases, errors %v; placeholder mode: %d releases", len(enc.Releases), errs, len(ph.Releases))
	}
	for i, r := range enc.Releases {
		if p := ph.Releases[i]; r.Name != p.Name || r.Namespace != p.Namespace || r.Chart != p.Chart || (r.Name != "cluster-configs" && !reflect.DeepEqual(r.MergedValues(), p.MergedValues())) {
			t.Errorf("release %d: decrypted %s/%s %s, placeholder mode %s/%s %s", i, r.Namespace, r.Name, r.Chart, p.Namespace, p.Name, p.Chart)
		}
	}
}

// TestExample_missingKey: without the key cluster-configs (the one release
// that reads the secrets file) is in error, naming the file and the age
// recipient; the other releases load.
func TestExample_missingKey(t *testing.T) {
	ensureExampleSecrets(t)
	sopstest.IsolateKeys(t)
	env, err := loader.Environment(context.Background(), loader.Options{RepoDir: exampleDir(t), OpenSOPS: sopslib.Open}, "demo-sops")
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
