package reconciler

import (
	"context"
	"errors"
	"fmt"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/storage/driver"

	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// Install installs a release that is not in the cluster, then waits for the
// objects it deployed to be ready (when the policy waits; Helm's own wait is
// off, the readiness gate replaces it).
//
// On success the release exists at revision 1 (or the next revision after an
// uninstalled-with-history one) with status deployed, digitops's labels, and
// ready objects. On failure (Helm's error, or not ready within the timeout,
// which marks the revision failed), when the policy asks for remediation, the
// failed release is uninstalled so that the next attempt or sync starts clean;
// while the policy's Retries allow, the install is tried again after a pause.
// The last error is returned. The caller must have checked that no live
// release of that name is deployed or pending.
type Install struct{ helmEnv }

var _ ActionRunner = Install{}

// Name implements ActionRunner.
func (Install) Name() Action { return ActionInstall }

// Run implements ActionRunner.
func (a Install) Run(ctx context.Context, step *Step) (Applied, error) {
	spec := step.Release
	// A failed or uninstalled-with-history release must be cleared first so
	// that install can reuse the name.
	clear := step.Live != nil
	for attempt := 0; ; attempt++ {
		applied, err := a.attempt(ctx, step, clear)
		if err == nil {
			return applied, nil
		}
		if len(step.Adopt) > 0 {
			// Uninstalling would delete the objects it took over: what
			// the cluster ran before digitops. The next sync upgrades
			// the failed release in place.
			return Applied{}, fmt.Errorf("%w (not uninstalled: it holds the objects it took over; the next sync upgrades it)", err)
		}
		clear = true
		if a.policy.RemediateFailedInstall {
			if uerr := a.uninstall(spec.Namespace, spec.Name); uerr != nil {
				return Applied{}, errors.Join(err, fmt.Errorf("remediation: %w", uerr))
			}
			clear = false
			err = fmt.Errorf("%w (uninstalled)", err)
		}
		if !a.again(ctx, spec, attempt, err) {
			return Applied{}, err
		}
	}
}

// attempt runs one Helm install (after clearing what is left of the release
// when clear is set) and the readiness gate.
func (a Install) attempt(ctx context.Context, step *Step, clear bool) (Applied, error) {
	spec := step.Release
	cfg := a.config(spec.Namespace)
	if clear {
		if err := a.uninstall(spec.Namespace, spec.Name); err != nil {
			return Applied{}, fmt.Errorf("unable to clear failed release %q before install: %w", spec.Name, err)
		}
	}
	if err := a.ensureNamespace(ctx, step); err != nil {
		return Applied{}, fmt.Errorf("unable to install release %q: %w", spec.Name, err)
	}
	inst := action.NewInstall(cfg)
	inst.ReleaseName = spec.Name
	inst.Namespace = spec.Namespace
	inst.Timeout = a.timeout()
	inst.Labels = a.labels(step, 1)
	inst.DisableOpenAPIValidation = !a.policy.OpenAPIValidation
	// The plan listed every live object this install takes, and refused
	// those of other releases unless the policy allows it.
	inst.TakeOwnership = len(step.Adopt) > 0
	if inst.TakeOwnership {
		inst.Labels[kube.LabelTakeover] = "true"
	}
	c, pr, err := a.chartToRun(ctx, step)
	if err != nil {
		return Applied{}, fmt.Errorf("unable to install release %q: %w", spec.Name, err)
	}
	if pr != nil {
		inst.PostRenderer = pr
	}
	rel, err := inst.RunWithContext(ctx, c, manifest.CopyValues(spec.MergedValues()))
	// An install that failed may have taken some of them already: record
	// the takeover on every one (an object Helm did not take keeps its
	// owner, which an orphan's deletion checks too).
	if len(step.liveAdopted) > 0 {
		if err := claimAdopted(ctx, a.cluster, step.liveAdopted, spec.Name, adoptionRecord(a.environment, spec.Namespace, spec.Name)); err != nil {
			a.log.Warn("took objects over, but their field managers stay and they lack the takeover's record: later edits may not show as drift, and an upgrade that stops rendering them deletes them whether prune is on or not", "release", spec.Name, "namespace", spec.Namespace, "error", err)
		}
	}
	if err != nil {
		return Applied{}, fmt.Errorf("unable to install release %q: %w", spec.Name, err)
	}
	if err := a.waitReady(ctx, rel); err != nil {
		return Applied{}, markFailed(cfg, rel, fmt.Errorf("unable to install release %q: %w", spec.Name, err))
	}
	return Applied{Revision: rel.Version, Manifest: rel.Manifest}, nil
}

// uninstall removes a release and its history.
func (a Install) uninstall(namespace, name string) error {
	un := action.NewUninstall(a.config(namespace))
	un.Timeout = a.timeout()
	if _, err := un.Run(name); err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		return fmt.Errorf("unable to uninstall release %q: %w", name, err)
	}
	return nil
}
