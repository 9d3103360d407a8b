package reconciler

import (
	"context"
	"fmt"
	"maps"

	"helm.sh/helm/v3/pkg/release"

	"github.com/digitops/digitops/reconciler/kube"
)

// Record records on a release's deployed revision, in place, the chart and
// values Git now wants, when the plan found that they render what that
// revision deployed (StatusRenderUnchanged): the revision's stored chart,
// values and digitops's digest labels are rewritten, no Helm action runs,
// no new revision is written and no object in the cluster changes. Helm's
// record (helm get values, helm history) then says what Git says, and the
// next sync finds the release in sync without rendering it.
//
// On failure nothing is written (the write is conditional on the
// revision's storage Secret not having changed since it was read: by the
// plan, when the plan read it to name the changed inputs). The caller must have decided the
// step from the deployed revision it names (step.Live.Version).
type Record struct{ helmEnv }

var _ ActionRunner = Record{}

// Name implements ActionRunner.
func (Record) Name() Action { return ActionRecord }

// Run implements ActionRunner.
func (a Record) Run(ctx context.Context, step *Step) (Applied, error) {
	spec := step.Release
	if step.Live == nil {
		return Applied{}, fmt.Errorf("unable to record release %q: it has no deployed revision", spec.Name)
	}
	version := step.Live.Version
	labels := a.labels(step, version)
	secrets := a.cluster.Clientset.CoreV1().Secrets(spec.Namespace)
	stored := step.stored
	if stored == nil || stored.Version() != version {
		var err error
		if stored, err = kube.ReadStoredRevision(ctx, secrets, spec.Name, version); err != nil {
			return Applied{}, fmt.Errorf("unable to record release %q: %w", spec.Name, err)
		}
	}
	// Conditional on the Secret as the plan read it, when it did: a
	// revision written since then is decided again by the next sync.
	err := kube.RewriteStoredRevision(ctx, secrets, stored, func(rel *release.Release) error {
		if rel.Info == nil || rel.Info.Status != release.StatusDeployed {
			return fmt.Errorf("unable to record release %q: revision %d is no longer deployed; the next sync decides again", spec.Name, version)
		}
		rel.Config = spec.MergedValues()
		if step.chart != nil {
			rel.Chart = step.chart
		}
		if rel.Labels == nil {
			rel.Labels = map[string]string{}
		}
		maps.Copy(rel.Labels, labels)
		for _, k := range unknownLabels(labels) {
			delete(rel.Labels, k)
		}
		return nil
	})
	if err != nil {
		return Applied{}, fmt.Errorf("unable to record release %q: %w", spec.Name, err)
	}
	a.log.Info("recorded without upgrade", "release", spec.Name, "namespace", spec.Namespace, "revision", version)
	return Applied{Revision: version}, nil
}
