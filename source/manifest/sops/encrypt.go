package sops

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
	"github.com/getsops/sops/v3/version"
)

// EncryptAge encrypts a plain YAML document for the given age recipients, in
// memory, as `sops encrypt --age <recipients>` does (every value encrypted).
// digitops uses it to write test fixtures and example files.
func EncryptAge(plain []byte, recipients ...string) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, errors.New("no age recipients")
	}
	var group sopsapi.KeyGroup
	for _, r := range recipients {
		k, err := age.MasterKeyFromRecipient(r)
		if err != nil {
			return nil, fmt.Errorf("age recipient %q: %w", r, err)
		}
		group = append(group, keys.MasterKey(k))
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
