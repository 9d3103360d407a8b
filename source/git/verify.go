package git

import (
	"errors"
	"fmt"
	"path"
	"strings"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Errors of commit verification; test them with errors.Is.
var (
	ErrUnsigned          = errors.New("commit is not signed")
	ErrUntrustedSigner   = errors.New("commit signature is not made by a trusted key")
	ErrSSHSigUnsupported = errors.New("commit has an SSH signature; only OpenPGP signatures can be verified")
)

// verifyCommit checks that c carries an OpenPGP signature made by a key of
// the armored keyring, and returns the signer's fingerprint.
func verifyCommit(c *object.Commit, keyring string) (string, error) {
	sig := strings.TrimSpace(c.PGPSignature)
	switch {
	case sig == "":
		return "", fmt.Errorf("%w: %s", ErrUnsigned, c.Hash)
	case strings.HasPrefix(sig, "-----BEGIN SSH SIGNATURE-----"):
		return "", fmt.Errorf("%w: %s", ErrSSHSigUnsupported, c.Hash)
	}
	entity, err := c.Verify(keyring)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %s", ErrUntrustedSigner, c.Hash, err.Error())
	}
	return fmt.Sprintf("%X", entity.PrimaryKey.Fingerprint), nil
}

// touchesPaths reports whether going from old to commit changes a file at or
// under one of paths (slash-separated, relative to the repository root). It
// answers true when old is unknown or not in the (shallow) object store,
// since nothing proves the paths unchanged.
func touchesPaths(repo *gogit.Repository, old plumbing.Hash, commit *object.Commit, paths []string) bool {
	if old.IsZero() {
		return true
	}
	if old == commit.Hash {
		return false
	}
	oldCommit, err := repo.CommitObject(old)
	if err != nil {
		return true
	}
	oldTree, err := oldCommit.Tree()
	if err != nil {
		return true
	}
	newTree, err := commit.Tree()
	if err != nil {
		return true
	}
	changes, err := object.DiffTree(oldTree, newTree)
	if err != nil {
		return true
	}
	for _, ch := range changes {
		for _, name := range []string{ch.From.Name, ch.To.Name} {
			if name != "" && underAny(name, paths) {
				return true
			}
		}
	}
	return false
}

// underAny reports whether file is one of paths or inside one of them.
func underAny(file string, paths []string) bool {
	for _, p := range paths {
		p = strings.Trim(path.Clean("/"+p), "/")
		if p == "" || file == p || strings.HasPrefix(file, p+"/") {
			return true
		}
	}
	return false
}
