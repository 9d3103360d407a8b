package rollout

import (
	"fmt"
	"slices"
	"strings"

	"github.com/digitops/digitops/source/manifest"
)

// Waves resolves a rollout's waves against the configuration's
// environments (names or patterns).
func Waves(rc manifest.RolloutConfig, envs []string) ([]Wave, error) {
	waves := make([]Wave, 0, len(rc.Waves))
	for i, w := range rc.Waves {
		names, err := w.Resolve(envs)
		if err != nil {
			return nil, fmt.Errorf("rollout %q wave %d: %w", rc.Name, i+1, err)
		}
		waves = append(waves, Wave{Environments: names, Soak: w.Soak, MaxParallel: w.MaxParallel, Gated: w.Prometheus != nil})
	}
	return waves, nil
}

// Reach says when a new revision of the repository reaches env under the
// rollout: at once (the first wave) or after which waves, with their soak
// times. ok is false when env is in none of its waves.
func Reach(rollout string, waves []Wave, env string) (note string, ok bool) {
	for i, w := range waves {
		if !slices.Contains(w.Environments, env) {
			continue
		}
		if i == 0 {
			var later []string
			for _, l := range waves[1:] {
				later = append(later, l.Environments...)
			}
			return fmt.Sprintf("rollout %s: %s is in wave 1 of %d: a new revision reaches it at once; %s wait for it", rollout, env, len(waves), strings.Join(later, ", ")), true
		}
		var before []string
		for j, b := range waves[:i] {
			gate := ""
			if b.Soak > 0 {
				gate = " for " + b.Soak.String()
			}
			if b.Gated {
				gate += " with its Prometheus gate"
			}
			before = append(before, fmt.Sprintf("wave %d (%s) in sync%s", j+1, strings.Join(b.Environments, ", "), gate))
		}
		return fmt.Sprintf("rollout %s: %s is in wave %d of %d: `digitops serve` syncs it at the revision last promoted to it, and a new revision reaches it only after %s; this plan is of the revision checked out",
			rollout, env, i+1, len(waves), strings.Join(before, ", then ")), true
	}
	return "", false
}
