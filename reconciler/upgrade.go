package reconciler

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"

	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// Upgrade upgrades a deployed (or failed) release to the desired chart and
// values, which replace the previous values entirely, then waits for the
// objects it deployed to be ready (when the policy waits; Helm's own wait is
// off, the readiness gate replaces it).
//
// On success a new revision is deployed with digitops's labels and its objects
// are ready. On failure (Helm's error, or not ready within the timeout, which
// marks the revision failed), when the policy asks for remediation and a
// deployed revision existed, the release is rolled back to it; then, while the
// policy's Retries allow, the upgrade is tried again after a pause. The last
// error is returned. The caller must have checked that the release exists and
// is not pending.
type Upgrade struct{ helmEnv }

var _ ActionRunner = Upgrade{}

// Name implements ActionRunner.
func (Upgrade) Name() Action { return ActionUpgrade }

// Run implements ActionRunner.
func (a Upgrade) Run(ctx context.Context, step *Step) (Applied, error) {
	spec := step.Release
	target, newest := 0, 0
	if step.Live != nil {
		target, newest = step.Live.LastDeployed, step.Live.Version
	}
	for attempt := 0; ; attempt++ {
		applied, err := a.attempt(ctx, step, attempt)
		if err == nil {
			if err := a.pruneOrphans(ctx, step, applied.Revision); err != nil {
				// The upgrade stands; the release still records kept
				// orphans, so the next sync deletes them (delete-orphans).
				a.log.Warn("upgraded, but the orphans prune deletes are not all gone", "release", spec.Name, "namespace", spec.Namespace, "revision", applied.Revision, "error", err)
			}
			return applied, nil
		}
		// An attempt that failed before Helm wrote a revision (a render
		// or build error) changed nothing: there is nothing to roll back.
		wrote := true
		if last, lerr := a.config(spec.Namespace).Releases.Last(spec.Name); lerr == nil {
			wrote = last.Version > newest
			newest = last.Version
		}
		if a.policy.RemediateFailedUpgrade && target > 0 && wrote {
			to, rerr := a.rollback(spec, target)
			if rerr != nil {
				return Applied{}, errors.Join(err, rerr)
			}
			err = fmt.Errorf("%w (rolled back to revision %d)", err, target)
			target, newest = to, to
		}
		if !a.again(ctx, spec, attempt, err) {
			return Applied{}, err
		}
	}
}

// attempt runs one Helm upgrade (the n-th, from 0) and the readiness gate.
func (a Upgrade) attempt(ctx context.Context, step *Step, n int) (Applied, error) {
	spec := step.Release
	cfg := a.config(spec.Namespace)
	up := action.NewUpgrade(cfg)
	up.Namespace = spec.Namespace
	up.ResetValues = true
	up.Timeout = a.timeout()
	up.MaxHistory = a.policy.HistoryMax
	next := 1
	if step.Live != nil {
		next = step.Live.Version + 1
	}
	if n > 0 {
		// Earlier attempts and their rollbacks wrote revisions of their own.
		if last, err := cfg.Releases.Last(spec.Name); err == nil {
			next = last.Version + 1
		}
	}
	up.Labels = a.labels(step, next)
	// Helm merges the previous revision's labels in; "null" drops the mark
	// an earlier remediation left.
	up.Labels[kube.LabelRemediation] = "null"
	for _, k := range unknownLabels(up.Labels) {
		up.Labels[k] = "null"
	}
	// Adopted objects it stops rendering stay (Helm's keep policy on
	// them): the release records that it kept some until prune deletes
	// them all.
	if adopted, _ := hasAdoptedOrphans(step.Orphans); adopted {
		up.Labels[kube.LabelOrphans] = "kept"
	} else if step.Live != nil && step.Live.KeptOrphans && step.orphansChecked {
		up.Labels[kube.LabelOrphans] = "null"
	}
	up.DisableOpenAPIValidation = !a.policy.OpenAPIValidation
	c, pr, err := a.chartToRun(ctx, step)
	if err != nil {
		return Applied{}, fmt.Errorf("unable to upgrade release %q: %w", spec.Name, err)
	}
	if pr != nil {
		up.PostRenderer = pr
	}
	rel, err := up.RunWithContext(ctx, spec.Name, c, manifest.CopyValues(spec.MergedValues()))
	if err != nil {
		return Applied{}, fmt.Errorf("unable to upgrade release %q: %w", spec.Name, err)
	}
	if err := a.waitReady(ctx, rel); err != nil {
		return Applied{}, markFailed(cfg, rel, fmt.Errorf("unable to upgrade release %q: %w", spec.Name, err))
	}
	return Applied{Revision: rel.Version, Manifest: rel.Manifest}, nil
}

// rollback restores revision to and returns the revision it wrote.
func (a Upgrade) rollback(spec manifest.ReleaseSpec, to int) (int, error) {
	cfg := a.config(spec.Namespace)
	rb := action.NewRollback(cfg)
	rb.Version = to
	rb.Timeout = a.timeout()
	rb.MaxHistory = a.policy.HistoryMax
	if err := rb.Run(spec.Name); err != nil {
		return 0, fmt.Errorf("remediation: unable to roll release %q back to revision %d: %w", spec.Name, to, err)
	}
	a.log.Info("rolled back", "release", spec.Name, "namespace", spec.Namespace, "revision", to)
	d, err := cfg.Releases.Deployed(spec.Name)
	if err != nil {
		return to, nil
	}
	// Helm copies the labels of revision to, which recorded writing that
	// revision: record this one as written by digitops too, so that the
	// next sync does not take its own remediation for a manual rollback.
	if err := addLabels(cfg, d, map[string]string{kube.LabelRevision: strconv.Itoa(d.Version), kube.LabelRemediation: fmt.Sprintf("rolled-back-to-%d", to)}); err != nil {
		return d.Version, fmt.Errorf("remediation: unable to label revision %d of release %q: %w", d.Version, spec.Name, err)
	}
	return d.Version, nil
}

// addLabels writes labels onto a stored revision, in place (no new
// revision).
func addLabels(cfg *action.Configuration, rel *release.Release, labels map[string]string) error {
	if rel.Labels == nil {
		rel.Labels = map[string]string{}
	}
	maps.Copy(rel.Labels, labels)
	return cfg.Releases.Update(rel)
}
