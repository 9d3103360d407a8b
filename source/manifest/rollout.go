package manifest

import (
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/digitops/digitops/internal/httpurl"
)

// RolloutConfig is one entry of digitops.yaml's rollouts: list: a new
// revision of the repository reaches its waves one after the other, each
// only after every environment of the wave before applied it and passed
// that wave's gate.
type RolloutConfig struct {
	Name  string       `yaml:"name"`
	Waves []WaveConfig `yaml:"waves"`
	// Line is the line of the entry in the configuration file.
	Line int `yaml:"-"`
}

// WaveConfig is one wave of a rollout.
type WaveConfig struct {
	// Environments are names or path.Match patterns (prod-*).
	Environments []string `yaml:"environments"`
	// Soak is how long every environment of the wave must stay in sync,
	// with nothing failed, before the next wave gets the revision.
	Soak time.Duration `yaml:"soak"`
	// MaxParallel, when set, rolls the wave that many environments at a
	// time (each batch in sync before the next starts).
	MaxParallel int `yaml:"maxParallel"`
	// Prometheus, when set, is a query that must hold over the soak.
	Prometheus *PrometheusGate `yaml:"prometheus"`
}

// PrometheusGate is a query whose value (a scalar, or the largest sample of
// a vector) must stay at or below Max during the soak.
type PrometheusGate struct {
	URL   string  `yaml:"url"`
	Query string  `yaml:"query"`
	Max   float64 `yaml:"max"`
}

// check returns what is wrong with the rollout, "" when nothing; envs are
// the configuration's environments, taken names the environments an
// earlier rollout claimed (updated).
func (r RolloutConfig) check(envs []string, taken map[string]string) string {
	if !fileName(r.Name) {
		return fmt.Sprintf("rollout name %q is not a name (lower-case letters, digits, '.', '-', '_')", r.Name)
	}
	if len(r.Waves) < 2 {
		return fmt.Sprintf("rollout %q needs at least two waves", r.Name)
	}
	for i, w := range r.Waves {
		where := fmt.Sprintf("rollout %q wave %d", r.Name, i+1)
		if len(w.Environments) == 0 {
			return where + ": no environments"
		}
		names, err := w.Resolve(envs)
		if err != nil {
			return where + ": " + err.Error()
		}
		for _, n := range names {
			if other, ok := taken[n]; ok {
				return fmt.Sprintf("%s: environment %q is already in %s", where, n, other)
			}
			taken[n] = where
		}
		if w.Soak < 0 || w.MaxParallel < 0 {
			return where + ": soak and maxParallel cannot be negative"
		}
		if g := w.Prometheus; g != nil {
			if _, ok := httpurl.Parse(g.URL); !ok {
				return where + ": prometheus.url must be an http(s) URL without credentials"
			}
			if g.Query == "" {
				return where + ": prometheus.query is empty"
			}
		}
	}
	return ""
}

// Resolve returns the environments of envs the wave names, in the order
// of envs; a name or pattern that matches none is an error.
func (w WaveConfig) Resolve(envs []string) ([]string, error) {
	var out []string
	for _, p := range w.Environments {
		matched := false
		for _, e := range envs {
			ok, err := path.Match(p, e)
			if err != nil {
				return nil, fmt.Errorf("bad pattern %q: %v", p, err)
			}
			if ok {
				matched = true
				if !slices.Contains(out, e) {
					out = append(out, e)
				}
			}
		}
		if !matched {
			return nil, fmt.Errorf("%q matches no environment", p)
		}
	}
	return out, nil
}
