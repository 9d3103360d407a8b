package sops_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/sops"
	"github.com/digitops/digitops/source/manifest/sops/sopslib"
	"github.com/digitops/digitops/source/manifest/sops/sopstest"
)

const plainSecrets = `cluster-configs:
  secrets:
    db:
      username: app
      password: s3cret
      port: 5432
    list: [one, two]
`

func newIdentity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// encryptFile encrypts plainSecrets for the recipients into a temporary file.
func encryptFile(t *testing.T, recipients ...string) string {
	t.Helper()
	enc, err := sopslib.EncryptAge([]byte(plainSecrets), recipients...)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "secrets.enc.yaml")
	if err := os.WriteFile(path, enc, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func plainValues(t *testing.T) map[string]any {
	t.Helper()
	v, err := manifest.ParseValues([]byte(plainSecrets), "plain")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDecryptValues_plain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secrets.yaml")
	if err := os.WriteFile(path, []byte(plainSecrets), 0o600); err != nil {
		t.Fatal(err)
	}
	vals, secrets, err := sops.Decrypter{Open: sopslib.Open}.DecryptValues(context.Background(), path, "env/secrets.yaml", manifest.SecretsDecrypt)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(vals, plainValues(t)) {
		t.Errorf("values = %v", vals)
	}
	if want := []string{"app", "one", "s3cret", "two"}; !reflect.DeepEqual(secrets, want) {
		t.Errorf("secrets = %q, want %q", secrets, want)
	}
}

func TestDecryptValues_ageRoundTrip(t *testing.T) {
	id := newIdentity(t)
	path := encryptFile(t, id.Recipient().String())
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "s3cret") || !strings.Contains(string(data), "ENC[AES256_GCM") {
		t.Fatalf("file is not encrypted:\n%s", data)
	}
	// The key comes from SOPS_AGE_KEY_FILE, read by sops itself.
	keyFile := filepath.Join(t.TempDir(), "keys.txt")
	if err := os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, env := range [][]string{{"SOPS_AGE_KEY_FILE", keyFile}, {"SOPS_AGE_KEY", id.String()}} {
		t.Run(env[0], func(t *testing.T) {
			sopstest.IsolateKeys(t, env...)
			vals, secrets, err := sops.Decrypter{Open: sopslib.Open}.DecryptValues(context.Background(), path, "env/secrets.enc.yaml", "")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(vals, plainValues(t)) {
				t.Errorf("values = %v, want %v", vals, plainValues(t))
			}
			if want := []string{"app", "one", "s3cret", "two"}; !reflect.DeepEqual(secrets, want) {
				t.Errorf("secrets = %q, want %q", secrets, want)
			}
		})
	}
}

func TestDecryptValues_missingKeyListsRecipients(t *testing.T) {
	a, b := newIdentity(t), newIdentity(t)
	path := encryptFile(t, a.Recipient().String(), b.Recipient().String())
	sopstest.IsolateKeys(t, "SOPS_AGE_KEY", newIdentity(t).String()) // a key, but not theirs
	_, _, err := sops.Decrypter{Open: sopslib.Open}.DecryptValues(context.Background(), path, "env/secrets.enc.yaml", manifest.SecretsDecrypt)
	var mk *sops.MissingKeyError
	if !errors.As(err, &mk) {
		t.Fatalf("err = %v, want a MissingKeyError", err)
	}
	want := []sops.Recipient{{Type: "age", ID: a.Recipient().String()}, {Type: "age", ID: b.Recipient().String()}}
	if !reflect.DeepEqual(mk.Recipients, want) {
		t.Errorf("recipients = %v, want %v", mk.Recipients, want)
	}
	msg := err.Error()
	for _, s := range []string{"env/secrets.enc.yaml: cannot decrypt", "age " + a.Recipient().String(), "age " + b.Recipient().String(), "SOPS_AGE_KEY_FILE", "--secrets=placeholder"} {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q does not say %q", msg, s)
		}
	}
}

func TestRecipients(t *testing.T) {
	const meta = `sops:
  kms:
    - arn: arn:aws:kms:ap-south-1:111122223333:key/demo
  pgp:
    - fp: 85D77543B3D624B63CEA9E6DBC17301B491B3F21
  age:
    - recipient: age1qqq
  key_groups:
    - gcp_kms:
        - resource_id: projects/p/locations/global/keyRings/r/cryptoKeys/k
      azure_kv:
        - vault_url: https://v.vault.azure.net/
          name: k
          version: "1"
      hc_vault:
        - vault_address: http://vault:8200
          engine_path: sops
          key_name: k
`
	vals, err := manifest.ParseValues([]byte(meta), "m")
	if err != nil {
		t.Fatal(err)
	}
	got := sops.Recipients(vals["sops"])
	want := []sops.Recipient{
		{Type: "age", ID: "age1qqq"},
		{Type: "pgp", ID: "85D77543B3D624B63CEA9E6DBC17301B491B3F21"},
		{Type: "kms", ID: "arn:aws:kms:ap-south-1:111122223333:key/demo"},
		{Type: "gcp_kms", ID: "projects/p/locations/global/keyRings/r/cryptoKeys/k"},
		{Type: "azure_kv", ID: "https://v.vault.azure.net/keys/k/1"},
		{Type: "hc_vault", ID: "http://vault:8200/v1/sops/keys/k"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Recipients = %v\nwant %v", got, want)
	}
}

var placeholderRE = regexp.MustCompile(`^sops-placeholder-[0-9a-f]{12}$`)

func TestDecryptValues_placeholderStable(t *testing.T) {
	id := newIdentity(t)
	path := encryptFile(t, id.Recipient().String())
	sopstest.IsolateKeys(t) // no key at all: placeholders need none
	read := func(p string) map[string]any {
		t.Helper()
		vals, secrets, err := sops.Decrypter{Open: sopslib.Open}.DecryptValues(context.Background(), p, "s.yaml", manifest.SecretsPlaceholder)
		if err != nil {
			t.Fatal(err)
		}
		if len(secrets) != 0 {
			t.Errorf("secrets = %q, want none (placeholders are not secret)", secrets)
		}
		if _, ok := vals["sops"]; ok {
			t.Error("the sops metadata is still in the values")
		}
		return vals
	}
	first, second := read(path), read(path)
	if !reflect.DeepEqual(first, second) {
		t.Fatalf("placeholders differ between two reads:\n%v\n%v", first, second)
	}
	db := first["cluster-configs"].(map[string]any)["secrets"].(map[string]any)["db"].(map[string]any)
	for _, k := range []string{"username", "password", "port"} {
		if s, _ := db[k].(string); !placeholderRE.MatchString(s) {
			t.Errorf("db.%s = %v, want a placeholder", k, db[k])
		}
	}
	if db["username"] == db["password"] {
		t.Error("two different ciphertexts gave the same placeholder")
	}

	// Swap one ciphertext: only that placeholder changes.
	data, _ := os.ReadFile(path)
	other, _ := os.ReadFile(encryptFile(t, id.Recipient().String()))
	enc := regexp.MustCompile(`password: (ENC\[[^\]]*\])`)
	changed := enc.ReplaceAll(data, enc.Find(other))
	p2 := filepath.Join(t.TempDir(), "changed.yaml")
	if err := os.WriteFile(p2, changed, 0o600); err != nil {
		t.Fatal(err)
	}
	db2 := read(p2)["cluster-configs"].(map[string]any)["secrets"].(map[string]any)["db"].(map[string]any)
	if db2["password"] == db["password"] {
		t.Error("the password placeholder did not change with its ciphertext")
	}
	if db2["username"] != db["username"] || db2["port"] != db["port"] {
		t.Error("placeholders of unchanged values changed")
	}
	if got := sops.Placeholder("ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]"); got != sops.Placeholder("ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]") || !sops.IsPlaceholder(got) {
		t.Errorf("Placeholder is not stable: %q", got)
	}
}

// TestDecryptValues_badInputs checks the message of each failure.
func TestDecryptValues_badInputs(t *testing.T) {
	id := newIdentity(t)
	good, err := os.ReadFile(encryptFile(t, id.Recipient().String()))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string               // the case
		file string               // the file's contents; empty means no file at all
		mode manifest.SecretsMode // the secrets mode
		want string               // a part of the error message
	}{
		{name: "missing file", file: "", mode: manifest.SecretsDecrypt, want: "env/s.yaml: secrets file does not exist"},
		{name: "yaml syntax", file: "a: [1, 2\nb: 3\n", mode: manifest.SecretsDecrypt, want: "env/s.yaml:2: invalid YAML"},
		{name: "not a mapping", file: "- a\n- b\n", mode: manifest.SecretsDecrypt, want: "env/s.yaml:1: values must be a YAML mapping"},
		{name: "unknown mode", file: string(good), mode: "guess", want: `unknown secrets mode "guess"`},
		{name: "tampered value", file: regexp.MustCompile(`username: ENC\[AES256_GCM,data:[^,]*`).ReplaceAllString(string(good), "username: ENC[AES256_GCM,data:AAAA"), mode: manifest.SecretsDecrypt, want: "env/s.yaml: cannot decrypt the SOPS file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sopstest.IsolateKeys(t, "SOPS_AGE_KEY", id.String())
			path := filepath.Join(t.TempDir(), "s.yaml")
			if tt.file != "" {
				if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, _, err := sops.Decrypter{Open: sopslib.Open}.DecryptValues(context.Background(), path, "env/s.yaml", tt.mode)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestDecryptValues_noOpener: without an Opener a SOPS file is an error
// naming it, in decrypt mode only; placeholders and plain files need none.
func TestDecryptValues_noOpener(t *testing.T) {
	sopstest.IsolateKeys(t)
	path := encryptFile(t, newIdentity(t).Recipient().String())
	_, _, err := sops.Decrypter{}.DecryptValues(context.Background(), path, "env/s.enc.yaml", manifest.SecretsDecrypt)
	if err == nil || err.Error() != "env/s.enc.yaml: the file is SOPS-encrypted and this program decrypts no SOPS files (no sops.Opener)" {
		t.Errorf("err = %v", err)
	}
	vals, _, err := sops.Decrypter{}.DecryptValues(context.Background(), path, "env/s.enc.yaml", manifest.SecretsPlaceholder)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := vals["cluster-configs"].(map[string]any)["secrets"].(map[string]any)["db"].(map[string]any)["password"].(string)
	if !sops.IsPlaceholder(pw) {
		t.Errorf("password = %q, want a placeholder", pw)
	}
}
