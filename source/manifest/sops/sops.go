package sops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/digitops/digitops/internal/repofs"
	"github.com/digitops/digitops/source/manifest"
)

// MetadataKey is the top-level key of a SOPS-encrypted file.
const MetadataKey = "sops"

// PlaceholderPrefix starts every placeholder of SecretsPlaceholder mode.
const PlaceholderPrefix = "sops-placeholder-"

// Opener decrypts one whole SOPS file in memory: data is the file as read,
// name its name (.json is JSON, anything else YAML); it returns the plain
// document. sopslib.Open is the one digitops links: the sops library with its
// key sources (age, PGP and the cloud KMSs), whose SDKs only the program
// needs, not every package that loads an environment.
type Opener func(data []byte, name string) ([]byte, error)

// Decrypter reads secrets files: plain YAML, or SOPS-encrypted YAML (or
// JSON) that Open decrypts in memory. The zero value reads plain files and
// placeholders; a SOPS file to decrypt is then an error naming it.
type Decrypter struct {
	// Files reads the secrets files, confined to the repository; nil reads
	// them unconfined.
	Files *repofs.Root
	// Open decrypts SOPS files; nil decrypts none.
	Open Opener
}

var _ manifest.Decrypter = Decrypter{}

// encrypted matches one SOPS-encrypted value.
var encrypted = regexp.MustCompile(`^ENC\[AES256_GCM,data:.*\]$`)

// DecryptValues implements manifest.Decrypter.
//
// A file without a top-level sops: block is plain: its values are returned
// as they are, and all its string leaves as secrets. A SOPS file is
// decrypted in memory (mode SecretsDecrypt or empty), or, in mode
// SecretsPlaceholder, not decrypted at all: each encrypted value becomes
// Placeholder(ciphertext), and only the file's unencrypted string leaves are
// returned as secrets (the placeholders reveal nothing and must stay
// visible so that a plan shows which secrets changed).
func (d Decrypter) DecryptValues(ctx context.Context, path, name string, mode manifest.SecretsMode) (map[string]any, []string, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	data, err := manifest.ReadRepoFile(ctx, d.Files, path, name, "secrets file")
	if err != nil {
		return nil, nil, err
	}
	return d.DecryptData(ctx, data, name, mode)
}

// DecryptData is DecryptValues on the file's contents; name is the file's
// name in errors and decides the format (.json is JSON, anything else YAML).
func (d Decrypter) DecryptData(ctx context.Context, data []byte, name string, mode manifest.SecretsMode) (map[string]any, []string, error) {
	vals, err := manifest.ParseValues(data, name)
	if err != nil {
		return nil, nil, err
	}
	meta, isSops := vals[MetadataKey]
	if !isSops {
		return vals, manifest.StringLeaves(vals), nil
	}
	switch mode {
	case manifest.SecretsPlaceholder:
		delete(vals, MetadataKey)
		placeholders(vals)
		var secrets []string
		for _, s := range manifest.StringLeaves(vals) {
			if !IsPlaceholder(s) {
				secrets = append(secrets, s)
			}
		}
		return vals, secrets, nil
	case "", manifest.SecretsDecrypt:
	default:
		return nil, nil, &manifest.Error{File: name, Msg: fmt.Sprintf("unknown secrets mode %q (want %s or %s)", mode, manifest.SecretsDecrypt, manifest.SecretsPlaceholder)}
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if d.Open == nil {
		return nil, nil, &manifest.Error{File: name, Msg: "the file is SOPS-encrypted and this program decrypts no SOPS files (no sops.Opener)"}
	}
	clear, err := d.Open(data, name)
	if err != nil {
		recipients := Recipients(meta)
		if isDataKeyError(err) {
			return nil, nil, &MissingKeyError{File: name, Recipients: recipients, Err: err}
		}
		return nil, nil, &manifest.Error{File: name, Msg: "cannot decrypt the SOPS file: " + oneLine(err.Error())}
	}
	out, err := manifest.ParseValues(clear, name)
	if err != nil {
		return nil, nil, err
	}
	return out, manifest.StringLeaves(out), nil
}

// Placeholder returns the stable placeholder of one encrypted value: the
// prefix and the first 12 hex digits of the SHA-256 of the ciphertext. It
// changes when, and only when, the ciphertext changes (note that `sops edit`
// re-encrypts every value of a file, with fresh IVs).
func Placeholder(ciphertext string) string {
	sum := sha256.Sum256([]byte(ciphertext))
	return PlaceholderPrefix + hex.EncodeToString(sum[:])[:12]
}

// IsPlaceholder says whether s is a placeholder; apply refuses them.
func IsPlaceholder(s string) bool {
	return strings.HasPrefix(s, PlaceholderPrefix)
}

// placeholders replaces every encrypted leaf by its placeholder, in place.
func placeholders(v map[string]any) {
	var walk func(x any) any
	walk = func(x any) any {
		switch t := x.(type) {
		case map[string]any:
			for k, c := range t {
				t[k] = walk(c)
			}
		case []any:
			for i, c := range t {
				t[i] = walk(c)
			}
		case string:
			if encrypted.MatchString(t) {
				return Placeholder(t)
			}
		}
		return x
	}
	walk(v)
}

// isDataKeyError says whether sops failed because no master key could
// decrypt the data key (as opposed to a corrupt file or a MAC mismatch).
func isDataKeyError(err error) bool {
	var ue interface{ UserError() string }
	return errors.As(err, &ue) && strings.Contains(err.Error(), "data key")
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
