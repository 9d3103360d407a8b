package reconciler

import (
	"context"
	"fmt"

	"helm.sh/helm/v3/pkg/action"
)

// Uninstall removes a release digitops owns that Git no longer has.
//
// On success the release and its objects are gone (no history kept). On
// failure the release may be left uninstalling; the next sync retries. The
// caller must have checked that the environment owns the release and that the
// prune guard allows it.
type Uninstall struct{ helmEnv }

var _ ActionRunner = Uninstall{}

// Name implements ActionRunner.
func (Uninstall) Name() Action { return ActionUninstall }

// Run implements ActionRunner.
func (a Uninstall) Run(ctx context.Context, step *Step) (Applied, error) {
	if step.Live == nil || step.Live.Environment != a.environment {
		return Applied{}, fmt.Errorf("refusing to uninstall release %q: environment %q does not own it", step.Release.Name, a.environment)
	}
	un := action.NewUninstall(a.config(step.Release.Namespace))
	un.Timeout = a.timeout()
	un.Wait = a.policy.Wait
	if _, err := un.Run(step.Release.Name); err != nil {
		return Applied{}, fmt.Errorf("unable to uninstall release %q: %w", step.Release.Name, err)
	}
	return Applied{}, ctx.Err()
}
