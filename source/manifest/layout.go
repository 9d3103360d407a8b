package manifest

import (
	"context"

	"github.com/digitops/digitops/internal/repofs"
)

// SecretsMode says what to do with encrypted values.
type SecretsMode string

// Secrets modes.
const (
	// SecretsDecrypt decrypts SOPS files (the default).
	SecretsDecrypt SecretsMode = "decrypt"
	// SecretsPlaceholder renders each encrypted value as a stable placeholder
	// derived from its ciphertext, for plans without keys; apply refuses it.
	SecretsPlaceholder SecretsMode = "placeholder"
)

// Layout reads the releases of one environment from a repository.
type Layout interface {
	// Releases returns the environment's releases, unordered but complete.
	// A release that cannot be loaded is returned with its Err set (the
	// others are still planned); an error that concerns the whole
	// environment (its files cannot be read) is returned as the error,
	// naming the file and line at fault. Warnings go to in.Warn.
	Releases(ctx context.Context, in LayoutInput) ([]ReleaseSpec, error)
}

// LayoutInput is what a Layout reads from.
type LayoutInput struct {
	// RepoDir is the absolute repository root.
	RepoDir string
	// ConfigFile is the configuration file's name for errors.
	ConfigFile string
	// Env is the environment's entry in the configuration.
	Env EnvironmentConfig
	// Secrets is SecretsDecrypt or SecretsPlaceholder.
	Secrets SecretsMode
	// Decrypter reads secrets files (plain or SOPS); nil means plain YAML
	// only, and a SOPS file is an error.
	Decrypter Decrypter
	// Warn receives the layout's warnings; nil drops them.
	Warn func(Warning)
	// Files reads the repository's files, confined to it (regular files
	// under a size cap); nil reads them unconfined (tests).
	Files *repofs.Root
	// AllowEnv are the environment variables helmfile templates may read
	// (env, expandenv, requiredEnv): names, or path.Match patterns such as
	// CI_*. Any other variable reads as unset; empty allows none.
	AllowEnv []string
}

// Warning reports w to in.Warn, if set.
func (in LayoutInput) Warning(w Warning) {
	if in.Warn != nil {
		in.Warn(w)
	}
}

// Decrypter reads a secrets file: plain YAML, or a SOPS-encrypted file that it
// decrypts in memory (or, in SecretsPlaceholder mode, replaces each encrypted
// value by a stable placeholder derived from its ciphertext).
type Decrypter interface {
	// DecryptValues reads the file at path (name is its repository-relative
	// name for errors) and returns its values and every string leaf that came
	// from it, so that callers can mask them.
	DecryptValues(ctx context.Context, path, name string, mode SecretsMode) (values map[string]any, secrets []string, err error)
}
