package daemon

import (
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/reconciler"
)

// stepDrift returns the drift items the plan found on a step, with every
// secret value masked (again: the reconciler masks Secret data already).
func stepDrift(step *reconciler.Step, secrets []string) []statusapi.DriftItem {
	if len(step.Drift) == 0 {
		return nil
	}
	out := make([]statusapi.DriftItem, len(step.Drift))
	for i, it := range step.Drift {
		it.Before = reconciler.MaskSecrets(it.Before, secrets)
		it.After = reconciler.MaskSecrets(it.After, secrets)
		out[i] = it
	}
	return out
}
