package sops_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/sops"
	"github.com/digitops/digitops/source/manifest/sops/sopslib"
	"github.com/digitops/digitops/source/manifest/sops/sopstest"
)

// pgpHome writes a GnuPG home with a fresh, passphrase-less key in the
// legacy pubring.gpg/secring.gpg format that sops reads with OpenPGP, and
// returns it with the key's fingerprint.
func pgpHome(t *testing.T, withSecret bool) (string, string) {
	t.Helper()
	e, err := openpgp.NewEntity("digitops test", "TEST ONLY", "test@digitops.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	write := func(name string, serialize func(f *os.File) error) {
		f, err := os.Create(filepath.Join(home, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := serialize(f); err != nil {
			t.Fatal(err)
		}
	}
	write("pubring.gpg", func(f *os.File) error { return e.Serialize(f) })
	if withSecret {
		write("secring.gpg", func(f *os.File) error { return e.SerializePrivate(f, nil) })
	}
	return home, strings.ToUpper(fmt.Sprintf("%x", e.PrimaryKey.Fingerprint))
}

func TestDecryptValues_pgpRoundTrip(t *testing.T) {
	home, fp := pgpHome(t, true)
	// The gpg binary is never used: sops reads the keyring with OpenPGP.
	sopstest.IsolateKeys(t, "GNUPGHOME", home, "SOPS_GPG_EXEC", filepath.Join(home, "no-gpg"))
	enc, err := sopslib.Encrypt([]byte(plainSecrets), sops.Recipient{Type: "pgp", ID: fp})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(enc), "fp: "+fp) {
		t.Fatalf("the file does not list the PGP key:\n%s", enc)
	}
	vals, _, err := sops.Decrypter{Open: sopslib.Open}.DecryptData(context.Background(), enc, "pgp.yaml", manifest.SecretsDecrypt)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(vals, plainValues(t)) {
		t.Errorf("values = %v", vals)
	}

	// Without the secret key: the error names the fingerprint.
	pubOnly, _ := pgpHome(t, false)
	sopstest.IsolateKeys(t, "GNUPGHOME", pubOnly, "SOPS_GPG_EXEC", filepath.Join(pubOnly, "no-gpg"))
	_, _, err = sops.Decrypter{Open: sopslib.Open}.DecryptData(context.Background(), enc, "pgp.yaml", manifest.SecretsDecrypt)
	var mk *sops.MissingKeyError
	if !errors.As(err, &mk) || !strings.Contains(err.Error(), "pgp "+fp) {
		t.Errorf("err = %v, want a MissingKeyError naming pgp %s", err, fp)
	}
}
