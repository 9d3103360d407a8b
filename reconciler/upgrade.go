package reconciler

import (
	"context"
	"errors"
	"fmt"

	"helm.sh/helm/v3/pkg/action"

	"github.com/digitops/digitops/source/manifest"
)

// Upgrade upgrades a deployed (or failed) release to the desired chart and
// values, which replace the previous values entirely.
//
// On success a new revision is deployed with digitops's labels. On failure,
// when the policy asks for remediation and a deployed revision exists, the
// release is rolled back to it; the error is returned either way. The caller
// must have checked that the release exists and is not pending.
type Upgrade struct{ helmEnv }

var _ ActionRunner = Upgrade{}

// Name implements ActionRunner.
func (Upgrade) Name() Action { return ActionUpgrade }

// Run implements ActionRunner.
func (a Upgrade) Run(ctx context.Context, step *Step) (int, error) {
	spec := step.Release
	up := action.NewUpgrade(a.config(spec.Namespace))
	up.Namespace = spec.Namespace
	up.ResetValues = true
	up.Timeout = a.timeout()
	up.Wait = a.policy.Wait
	up.MaxHistory = a.policy.HistoryMax
	up.Labels = a.labels(step)
	rel, err := up.RunWithContext(ctx, spec.Name, step.chart, manifest.CopyValues(spec.Values))
	if err != nil {
		err = fmt.Errorf("unable to upgrade release %q: %w", spec.Name, err)
		if a.policy.RemediateFailedUpgrade && step.Live != nil && step.Live.LastDeployed > 0 {
			if rerr := a.rollback(spec, step.Live.LastDeployed); rerr != nil {
				err = errors.Join(err, rerr)
			} else {
				err = fmt.Errorf("%w (rolled back to revision %d)", err, step.Live.LastDeployed)
			}
		}
		return 0, err
	}
	return rel.Version, nil
}

// rollback restores revision to.
func (a Upgrade) rollback(spec manifest.ReleaseSpec, to int) error {
	rb := action.NewRollback(a.config(spec.Namespace))
	rb.Version = to
	rb.Timeout = a.timeout()
	rb.Wait = a.policy.Wait
	rb.MaxHistory = a.policy.HistoryMax
	if err := rb.Run(spec.Name); err != nil {
		return fmt.Errorf("remediation: unable to roll release %q back to revision %d: %w", spec.Name, to, err)
	}
	return nil
}
