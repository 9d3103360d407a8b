package loader

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/digitops/digitops/internal/repofs"
	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/digit"
	"github.com/digitops/digitops/source/manifest/helmfile"
	"github.com/digitops/digitops/source/manifest/native"
	"github.com/digitops/digitops/source/manifest/sops"
)

// Options says what to load.
type Options struct {
	// RepoDir is the repository checkout.
	RepoDir string
	// ConfigPath is the configuration file; empty means digitops.yaml at the
	// repository root. A relative path is relative to the repository root.
	ConfigPath string
	// Secrets is manifest.SecretsDecrypt (default) or SecretsPlaceholder.
	Secrets manifest.SecretsMode
	// OpenSOPS decrypts SOPS files (sopslib.Open in the program); nil
	// decrypts none: a SOPS file to decrypt is then a load error naming it.
	OpenSOPS sops.Opener
	// MaxFileSize caps each file read from the repository;
	// 0 means repofs.DefaultMaxFileSize (16 MiB).
	MaxFileSize int64
	// AllowEnv are the environment variables helmfile templates may read
	// (see manifest.LayoutInput.AllowEnv); empty allows none.
	AllowEnv []string
	// Layouts overrides the layout readers (tests); nil means all of them.
	Layouts map[manifest.LayoutName]manifest.Layout
}

// DefaultLayouts returns a reader for every layout digitops supports.
func DefaultLayouts() map[manifest.LayoutName]manifest.Layout {
	return map[manifest.LayoutName]manifest.Layout{
		manifest.LayoutNative:   native.Layout{},
		manifest.LayoutHelmfile: helmfile.Layout{},
		manifest.LayoutDigit:    digit.Layout{},
	}
}

// Config reads the configuration file named by opts.
func Config(opts Options) (*manifest.Config, string, error) {
	repo, err := filepath.Abs(opts.RepoDir)
	if err != nil {
		return nil, "", err
	}
	path := opts.ConfigPath
	if path == "" {
		path = manifest.ConfigFileName
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(repo, path)
	}
	if r, err := filepath.Rel(repo, path); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		// The operator's own file (--config outside the repository).
		cfg, err := manifest.ReadConfig(path)
		return cfg, repo, err
	}
	files, err := repofs.New(repo, opts.MaxFileSize)
	if err != nil {
		return nil, "", err
	}
	// Bounded (a regular file under the cap): no context needed.
	data, err := manifest.ReadRepoFile(context.Background(), files, path, rel(repo, path), "configuration file")
	if errors.Is(err, fs.ErrNotExist) || (err != nil && strings.HasSuffix(err.Error(), "configuration file does not exist")) {
		cfg, err := manifest.ReadConfig(path) // its message says how to create one
		return cfg, repo, err
	}
	if err != nil {
		return nil, "", err
	}
	cfg, err := manifest.ParseConfig(path, data)
	// Name the file as the repository does, not by its path on disk (a Git
	// checkout in the cache).
	var me *manifest.Error
	if errors.As(err, &me) && me.File == path {
		me.File = rel(repo, path)
	}
	return cfg, repo, err
}

// Environment loads and validates one environment. On error it returns no
// Environment at all.
func Environment(ctx context.Context, opts Options, name string) (*manifest.Environment, error) {
	cfg, repo, err := Config(opts)
	if err != nil {
		return nil, err
	}
	ec, err := cfg.Environment(name)
	if err != nil {
		return nil, err
	}
	return load(ctx, opts, cfg, repo, ec)
}

// All loads every environment of the configuration.
func All(ctx context.Context, opts Options) ([]*manifest.Environment, error) {
	cfg, repo, err := Config(opts)
	if err != nil {
		return nil, err
	}
	out := make([]*manifest.Environment, 0, len(cfg.Environments))
	for _, ec := range cfg.Environments {
		env, err := load(ctx, opts, cfg, repo, ec)
		if err != nil {
			return nil, err
		}
		out = append(out, env)
	}
	return out, nil
}

func load(ctx context.Context, opts Options, cfg *manifest.Config, repo string, ec manifest.EnvironmentConfig) (*manifest.Environment, error) {
	layouts := opts.Layouts
	if layouts == nil {
		layouts = DefaultLayouts()
	}
	layout, ok := layouts[ec.EffectiveLayout()]
	if !ok {
		return nil, &manifest.Error{File: rel(repo, cfg.Path), Line: ec.Line, Msg: fmt.Sprintf("environment %q: layout %q is not supported by this build", ec.Name, ec.EffectiveLayout())}
	}
	secrets := opts.Secrets
	if secrets == "" {
		secrets = manifest.SecretsDecrypt
	}
	cfgName := rel(repo, cfg.Path)
	var warnings []manifest.Warning
	warn := func(w manifest.Warning) { warnings = append(warnings, w) }
	files, err := repofs.New(repo, opts.MaxFileSize)
	if err != nil {
		return nil, err
	}
	releases, err := layout.Releases(ctx, manifest.LayoutInput{RepoDir: repo, ConfigFile: cfgName, Env: ec, Secrets: secrets, Decrypter: sops.Decrypter{Files: files, Open: opts.OpenSOPS}, Warn: warn, Files: files, AllowEnv: opts.AllowEnv})
	if err != nil {
		return nil, err
	}
	for i := range releases {
		if ec.ReleaseName == "deployer" {
			releases[i].TemplateName = manifest.DeployerReleaseName
		}
		if releases[i].Chart.Path != "" {
			releases[i].Chart.Root = files.Dir()
		}
	}
	ordered, err := manifest.Validate(cfgName, releases)
	if err != nil {
		return nil, err
	}
	return &manifest.Environment{
		Name:     ec.Name,
		Layout:   ec.EffectiveLayout(),
		RepoDir:  repo,
		Cluster:  ec.Cluster,
		Notify:   ec.Notify,
		Policy:   ec.Policy(),
		Releases: ordered,
		Warnings: warnings,
	}, nil
}

func rel(repo, path string) string {
	if r, err := filepath.Rel(repo, path); err == nil && !filepath.IsAbs(r) && r != "" && r[0] != '.' {
		return r
	}
	return path
}
