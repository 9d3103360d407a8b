package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/digitops/digitops/internal/yamlnode"
)

// ConfigFileName is the name of the configuration file at the repository root.
const ConfigFileName = "digitops.yaml"

// Config is the parsed digitops.yaml.
type Config struct {
	// Path is the file the configuration was read from.
	Path         string              `yaml:"-"`
	Environments []EnvironmentConfig `yaml:"environments"`
	// Rollouts carry a new revision to environments wave by wave.
	Rollouts []RolloutConfig `yaml:"rollouts"`
}

// EnvironmentConfig is one entry of digitops.yaml's environments list.
type EnvironmentConfig struct {
	Name   string     `yaml:"name"`
	Layout LayoutName `yaml:"layout"`
	// ReleaseName is the .Release.Name charts render with: "release" (the
	// default: each release's own name) or "deployer" (the Go deployer's
	// "release-name", to keep the names of the objects it created).
	ReleaseName string `yaml:"releaseName"`

	// digit layout
	ChartsDir      string   `yaml:"chartsDir"`
	EnvFile        string   `yaml:"envFile"`
	SecretsFile    string   `yaml:"secretsFile"`
	ReleaseChart   string   `yaml:"releaseChart"`
	Modules        []string `yaml:"modules"`
	ClusterConfigs bool     `yaml:"clusterConfigs"`
	Namespace      string   `yaml:"namespace"`

	// helmfile layout
	Helmfile            string   `yaml:"helmfile"`
	HelmfileEnvironment string   `yaml:"helmfileEnvironment"`
	Selector            []string `yaml:"selector"`

	// native layout
	Releases []NativeRelease `yaml:"releases"`

	Cluster ClusterRef `yaml:"cluster"`
	Sync    SyncConfig `yaml:"sync"`
	// Notify are where the daemon tells what it did (see NotifyConfig).
	Notify []NotifyConfig `yaml:"notify"`

	// Line is the line of the entry in the configuration file.
	Line int `yaml:"-"`
}

// SyncConfig is the sync: block of an environment.
type SyncConfig struct {
	Interval        time.Duration `yaml:"interval"`
	Prune           *bool         `yaml:"prune"`
	Drift           DriftMode     `yaml:"drift"`
	Concurrency     int           `yaml:"concurrency"`
	Timeout         time.Duration `yaml:"timeout"`
	MaxPrunePercent *int          `yaml:"maxPrunePercent"`
	HistoryMax      int           `yaml:"historyMax"`
	Wait            *bool         `yaml:"wait"`
	Adopt           AdoptMode     `yaml:"adopt"`
	// OpenAPIValidation turns on Helm's client-side schema validation.
	OpenAPIValidation bool         `yaml:"openAPIValidation"`
	Remediation       *Remediation `yaml:"remediation"`
	// DriftAllowManagers and DriftIgnore tune drift detection.
	DriftAllowManagers []string          `yaml:"driftAllowManagers"`
	DriftIgnore        []DriftIgnoreRule `yaml:"driftIgnore"`
}

// check returns what is out of range in the sync settings, "" when nothing.
func (s SyncConfig) check() string {
	switch {
	case s.Interval < 0:
		return fmt.Sprintf("interval: %s is negative", s.Interval)
	case s.Concurrency < 0:
		return fmt.Sprintf("concurrency: %d is negative (0 means the default)", s.Concurrency)
	case s.Timeout < 0:
		return fmt.Sprintf("timeout: %s is negative", s.Timeout)
	case s.MaxPrunePercent != nil && (*s.MaxPrunePercent < 0 || *s.MaxPrunePercent > 100):
		return fmt.Sprintf("maxPrunePercent: %d is not a percentage (0 to 100)", *s.MaxPrunePercent)
	case s.HistoryMax < 0:
		return fmt.Sprintf("historyMax: %d is negative", s.HistoryMax)
	case s.Remediation != nil && s.Remediation.Retries < 0:
		return fmt.Sprintf("remediation.retries: %d is negative", s.Remediation.Retries)
	case s.Remediation != nil && (s.Remediation.Backoff < 0 || s.Remediation.MaxBackoff < 0):
		return "remediation.backoff and maxBackoff cannot be negative"
	}
	return ""
}

// Remediation says what to do when a Helm action fails.
type Remediation struct {
	// RollbackFailedUpgrade rolls back to the last deployed revision.
	RollbackFailedUpgrade *bool `yaml:"rollbackFailedUpgrade"`
	// UninstallFailedInstall uninstalls a failed install.
	UninstallFailedInstall *bool `yaml:"uninstallFailedInstall"`
	// Retries is how many more times a failed action is tried in one sync.
	Retries int `yaml:"retries"`
	// Backoff is the daemon's wait before it tries a desired state that
	// failed again (doubled after each failure, up to MaxBackoff); a new
	// commit or a manual retry tries at once.
	Backoff    time.Duration `yaml:"backoff"`
	MaxBackoff time.Duration `yaml:"maxBackoff"`
}

// NativeRelease is one release of the native layout.
type NativeRelease struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Chart     string            `yaml:"chart"`
	Repo      string            `yaml:"repo"`
	Version   string            `yaml:"version"`
	Values    yaml.Node         `yaml:"values"`
	Needs     []string          `yaml:"needs"`
	Labels    map[string]string `yaml:"labels"`
	// Line is the line of the release in the configuration file.
	Line int `yaml:"-"`
}

// ReadConfig reads and validates the configuration file at path.
func ReadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &Error{File: path, Msg: "no configuration file: create " + ConfigFileName + " at the repository root or pass --config"}
		}
		return nil, &Error{File: path, Msg: err.Error()}
	}
	return ParseConfig(path, data)
}

// ParseConfig parses the configuration file contents; path names the file in
// errors.
func ParseConfig(path string, data []byte) (*Config, error) {
	if err := CheckYAML(data, path); err != nil {
		return nil, err
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: path, Msg: "empty configuration: it needs an environments: list"}
		}
		return nil, yamlSyntaxError(path, data, err)
	}
	var second yaml.Node
	if err := dec.Decode(&second); err == nil {
		return nil, &Error{File: path, Line: second.Line, Msg: "a second YAML document: the configuration is one document (remove the ---)"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlSyntaxError(path, data, err)
	}
	cfg.Path = path
	// Recover line numbers, which the struct decode drops.
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err == nil {
		if ros := yamlnode.Value(documentRoot(&root), "rollouts"); ros != nil && ros.Kind == yaml.SequenceNode {
			for i, n := range ros.Content {
				if i < len(cfg.Rollouts) {
					cfg.Rollouts[i].Line = n.Line
				}
			}
		}
		if envs := yamlnode.Value(documentRoot(&root), "environments"); envs != nil && envs.Kind == yaml.SequenceNode {
			for i, n := range envs.Content {
				if i >= len(cfg.Environments) {
					break
				}
				cfg.Environments[i].Line = n.Line
				if rels := yamlnode.Value(n, "releases"); rels != nil && rels.Kind == yaml.SequenceNode {
					for j, r := range rels.Content {
						if j < len(cfg.Environments[i].Releases) {
							cfg.Environments[i].Releases[j].Line = r.Line
						}
					}
				}
			}
		}
	}
	if len(cfg.Environments) == 0 {
		return nil, &Error{File: path, Msg: "no environments: the file needs an environments: list"}
	}
	seen := map[string]int{}
	for _, e := range cfg.Environments {
		if e.Name == "" {
			return nil, &Error{File: path, Line: e.Line, Msg: "environment without a name"}
		}
		if err := CheckEnvironmentName(e.Name); err != nil {
			return nil, &Error{File: path, Line: e.Line, Msg: err.Error()}
		}
		if prev, ok := seen[e.Name]; ok {
			return nil, &Error{File: path, Line: e.Line, Msg: fmt.Sprintf("environment %q is declared twice (first on line %d)", e.Name, prev)}
		}
		seen[e.Name] = e.Line
		for _, c := range []struct {
			what, value, shown string
			allowed            []string
		}{
			{"layout", string(e.layout()), string(e.Layout), strs(LayoutNative, LayoutDigit, LayoutHelmfile)},
			{"drift mode", string(e.Sync.Drift), string(e.Sync.Drift), strs("", DriftCorrect, DriftWarn, DriftOff)},
			{"releaseName", e.ReleaseName, e.ReleaseName, []string{"", "release", "deployer"}},
			{"sync.adopt", string(e.Sync.Adopt), string(e.Sync.Adopt), strs("", AdoptUnowned, AdoptHelmReleases, AdoptNone)},
		} {
			if !slices.Contains(c.allowed, c.value) {
				return nil, &Error{File: path, Line: e.Line, Msg: fmt.Sprintf("environment %q: unknown %s %q (want %s)", e.Name, c.what, c.shown, orList(c.allowed))}
			}
		}
		for i, n := range e.Notify {
			if msg := n.check(); msg != "" {
				return nil, &Error{File: path, Line: e.Line, Msg: fmt.Sprintf("environment %q: notify[%d]: %s", e.Name, i, msg)}
			}
		}
		if msg := e.Sync.check(); msg != "" {
			return nil, &Error{File: path, Line: e.Line, Msg: fmt.Sprintf("environment %q: sync.%s", e.Name, msg)}
		}
	}
	names := cfg.EnvironmentNames()
	taken, rollouts := map[string]string{}, map[string]bool{}
	for _, r := range cfg.Rollouts {
		if rollouts[r.Name] {
			return nil, &Error{File: path, Line: r.Line, Msg: fmt.Sprintf("rollout %q is declared twice", r.Name)}
		}
		rollouts[r.Name] = true
		if msg := r.check(names, taken); msg != "" {
			return nil, &Error{File: path, Line: r.Line, Msg: msg}
		}
	}
	return &cfg, nil
}

// EnvironmentNames returns the names of the environments, in file order.
func (c *Config) EnvironmentNames() []string {
	names := make([]string, len(c.Environments))
	for i, e := range c.Environments {
		names[i] = e.Name
	}
	return names
}

// Environment returns the configuration of the named environment.
func (c *Config) Environment(name string) (EnvironmentConfig, error) {
	var names []string
	for _, e := range c.Environments {
		if e.Name == name {
			return e, nil
		}
		names = append(names, e.Name)
	}
	return EnvironmentConfig{}, &Error{File: c.Path, Msg: fmt.Sprintf("unknown environment %q (this file has: %v)", name, names)}
}

// strs returns an enum's values as strings.
func strs[T ~string](values ...T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

func (e EnvironmentConfig) layout() LayoutName {
	if e.Layout == "" {
		return LayoutNative
	}
	return e.Layout
}

// EffectiveLayout returns the layout, native when none is set.
func (e EnvironmentConfig) EffectiveLayout() LayoutName { return e.layout() }

// Policy returns the sync policy with defaults filled in.
func (e EnvironmentConfig) Policy() SyncPolicy {
	p := DefaultSyncPolicy()
	s := e.Sync
	if s.Interval > 0 {
		p.Interval = s.Interval
	}
	if s.Prune != nil {
		p.Prune = *s.Prune
	}
	if s.Drift != "" {
		p.Drift = s.Drift
	}
	if s.Adopt != "" {
		p.Adopt = s.Adopt
	}
	if s.Concurrency > 0 {
		p.Concurrency = s.Concurrency
	}
	if s.Timeout > 0 {
		p.Timeout = s.Timeout
	}
	if s.MaxPrunePercent != nil {
		p.MaxPrunePercent = *s.MaxPrunePercent
	}
	if s.HistoryMax > 0 {
		p.HistoryMax = s.HistoryMax
	}
	if s.Wait != nil {
		p.Wait = *s.Wait
	}
	p.OpenAPIValidation = s.OpenAPIValidation
	p.DriftAllowManagers = append(p.DriftAllowManagers, s.DriftAllowManagers...)
	p.DriftIgnore = append(p.DriftIgnore, s.DriftIgnore...)
	if r := s.Remediation; r != nil {
		if r.RollbackFailedUpgrade != nil {
			p.RemediateFailedUpgrade = *r.RollbackFailedUpgrade
		}
		if r.UninstallFailedInstall != nil {
			p.RemediateFailedInstall = *r.UninstallFailedInstall
		}
		if r.Retries > 0 {
			p.Retries = r.Retries
		}
		if r.Backoff > 0 {
			p.Backoff = r.Backoff
		}
		if r.MaxBackoff > 0 {
			p.MaxBackoff = r.MaxBackoff
		}
	}
	if p.MaxBackoff < p.Backoff {
		p.MaxBackoff = p.Backoff
	}
	return p
}

// RepoPath resolves a path from the configuration, relative to the repository
// root, refusing paths that leave it.
func RepoPath(repoDir, rel string) (string, error) {
	if filepath.IsAbs(rel) {
		return "", fmt.Errorf("path %q must be relative to the repository root", rel)
	}
	p := filepath.Join(repoDir, rel)
	r, err := filepath.Rel(repoDir, p)
	if err != nil || r == ".." || (len(r) > 2 && r[:3] == ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("path %q leaves the repository", rel)
	}
	return p, nil
}

func documentRoot(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return n.Content[0]
	}
	return n
}

// orList is "a, b or c" of the non-empty values.
func orList(values []string) string {
	var out []string
	for _, v := range values {
		if v != "" {
			out = append(out, v)
		}
	}
	if len(out) < 2 {
		return strings.Join(out, "")
	}
	return strings.Join(out[:len(out)-1], ", ") + " or " + out[len(out)-1]
}
