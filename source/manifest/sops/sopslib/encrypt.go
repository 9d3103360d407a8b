package sopslib

import (
	"errors"
	"fmt"

	sopsapi "github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	"github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/cmd/sops/common"
	"github.com/getsops/sops/v3/cmd/sops/formats"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keys"
	"github.com/getsops/sops/v3/pgp"
	"github.com/getsops/sops/v3/version"

	"github.com/digitops/digitops/source/manifest/sops"
)

// Encrypt encrypts a plain YAML document for the given recipients (age
// recipients and PGP fingerprints, the latter looked up in the GnuPG
// keyring), in memory, as `sops encrypt --age ... --pgp ...` does (every
// value encrypted). digitops uses it to write test fixtures and examples.
func Encrypt(plain []byte, recipients ...sops.Recipient) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, errors.New("no recipients")
	}
	var group sopsapi.KeyGroup
	for _, r := range recipients {
		switch r.Type {
		case "age":
			k, err := age.MasterKeyFromRecipient(r.ID)
			if err != nil {
				return nil, fmt.Errorf("age recipient %q: %w", r.ID, err)
			}
			group = append(group, keys.MasterKey(k))
		case "pgp":
			group = append(group, keys.MasterKey(pgp.NewMasterKeyFromFingerprint(r.ID)))
		default:
			return nil, fmt.Errorf("recipient %s: only age and pgp recipients can encrypt here", r)
		}
	}
	store := common.StoreForFormat(formats.Yaml, config.NewStoresConfig())
	branches, err := store.LoadPlainFile(plain)
	if err != nil {
		return nil, fmt.Errorf("unable to read the plain document: %w", err)
	}
	tree := sopsapi.Tree{
		Branches: branches,
		Metadata: sopsapi.Metadata{KeyGroups: []sopsapi.KeyGroup{group}, Version: version.Version},
	}
	dataKey, errs := tree.GenerateDataKey()
	if len(errs) > 0 {
		return nil, fmt.Errorf("unable to encrypt the data key: %w", errors.Join(errs...))
	}
	if err := common.EncryptTree(common.EncryptTreeOpts{DataKey: dataKey, Tree: &tree, Cipher: aes.NewCipher()}); err != nil {
		return nil, err
	}
	return store.EmitEncryptedFile(tree)
}

// EncryptAge is Encrypt for age recipients only.
func EncryptAge(plain []byte, recipients ...string) ([]byte, error) {
	rs := make([]sops.Recipient, len(recipients))
	for i, r := range recipients {
		rs[i] = sops.Recipient{Type: "age", ID: r}
	}
	return Encrypt(plain, rs...)
}
