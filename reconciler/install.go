package reconciler

import (
	"context"
	"errors"
	"fmt"

	"helm.sh/helm/v3/pkg/action"

	"github.com/digitops/digitops/source/manifest"
)

// Install installs a release that is not in the cluster.
//
// On success the release exists at revision 1 (or the next revision after an
// uninstalled-with-history one) with status deployed and digitops's labels.
// On failure, when the policy asks for remediation, the failed release is
// uninstalled so that the next sync starts clean; the error is returned either
// way. The caller must have checked that no live release of that name is
// deployed or pending.
type Install struct{ helmEnv }

var _ ActionRunner = Install{}

// Name implements ActionRunner.
func (Install) Name() Action { return ActionInstall }

// Run implements ActionRunner.
func (a Install) Run(ctx context.Context, step *Step) (int, error) {
	spec := step.Release
	cfg := a.config(spec.Namespace)
	if step.Live != nil {
		// A failed or uninstalled-with-history release: clear it first so
		// that install can reuse the name.
		un := action.NewUninstall(cfg)
		un.Timeout = a.timeout()
		if _, err := un.Run(spec.Name); err != nil {
			return 0, fmt.Errorf("unable to clear failed release %q before install: %w", spec.Name, err)
		}
	}
	inst := action.NewInstall(cfg)
	inst.ReleaseName = spec.Name
	inst.Namespace = spec.Namespace
	inst.CreateNamespace = true
	inst.Timeout = a.timeout()
	inst.Wait = a.policy.Wait
	inst.Labels = a.labels(step)
	rel, err := inst.RunWithContext(ctx, step.chart, manifest.CopyValues(spec.Values))
	if err != nil {
		err = fmt.Errorf("unable to install release %q: %w", spec.Name, err)
		if a.policy.RemediateFailedInstall {
			un := action.NewUninstall(a.config(spec.Namespace))
			un.Timeout = a.timeout()
			if _, uerr := un.Run(spec.Name); uerr != nil {
				err = errors.Join(err, fmt.Errorf("remediation: unable to uninstall failed release %q: %w", spec.Name, uerr))
			}
		}
		return 0, err
	}
	return rel.Version, nil
}
