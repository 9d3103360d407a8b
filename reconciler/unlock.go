package reconciler

import (
	"context"
	"fmt"

	"helm.sh/helm/v3/pkg/release"
)

// Unlock releases a release left pending-install, pending-upgrade or
// pending-rollback by an operation that died (the process was killed), by
// marking that revision failed, and then acts as a failed release needs: an
// upgrade when a deployed revision exists, else an install.
//
// On success the release is deployed at a new revision. On failure it is at
// least no longer pending. The caller must have checked that the pending
// status is older than the timeout, so no live operation holds it.
type Unlock struct {
	helmEnv
	install Install
	upgrade Upgrade
}

var _ ActionRunner = Unlock{}

// Name implements ActionRunner.
func (Unlock) Name() Action { return ActionUnlock }

// Run implements ActionRunner.
func (a Unlock) Run(ctx context.Context, step *Step) (Applied, error) {
	spec := step.Release
	store := a.config(spec.Namespace).Releases
	rel, err := store.Get(spec.Name, step.Live.Version)
	if err != nil {
		return Applied{}, fmt.Errorf("unable to read pending release %q: %w", spec.Name, err)
	}
	if !rel.Info.Status.IsPending() {
		return Applied{}, fmt.Errorf("release %q is no longer pending (%s); not unlocking", spec.Name, rel.Info.Status)
	}
	rel.SetStatus(release.StatusFailed, fmt.Sprintf("digitops: released a stale %s lock", rel.Info.Status))
	if err := store.Update(rel); err != nil {
		return Applied{}, fmt.Errorf("unable to unlock release %q: %w", spec.Name, err)
	}
	if step.Live.LastDeployed > 0 {
		return a.upgrade.Run(ctx, step)
	}
	return a.install.Run(ctx, step)
}
