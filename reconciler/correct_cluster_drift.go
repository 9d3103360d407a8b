package reconciler

import (
	"context"
	"fmt"

	"github.com/digitops/digitops/reconciler/drift"
)

// CorrectClusterDrift restores the objects of a deployed release to what the
// release deployed, in place: it writes the objects, not a new Helm
// revision. The release's history stays as it is, its revision number does
// not move, and a rollback still returns to a real chart version.
//
// It re-reads the drift when it runs (the cluster may have moved since the
// plan) and, for each drifted object:
//
//   - re-creates a deleted object from the release's manifest, with Helm's
//     ownership labels and annotations;
//   - otherwise updates the live object (an optimistic-concurrency PUT) with
//     the fields the chart sets put back to the release's values and the
//     fields foreign managers added removed, as Helm's field manager, which
//     therefore owns those fields again. Fields owned by allowed managers
//     (the HPA's replicas), server defaults and status are left as they are.
//
// On success the release's objects carry no drift and Run returns the live
// revision unchanged. On failure the objects corrected so far stay
// corrected; the error names the others, and the next sync tries again. The
// caller must have checked that the release is deployed, unchanged in Git,
// and that the drift mode is correct.
type CorrectClusterDrift struct{ helmEnv }

var _ ActionRunner = CorrectClusterDrift{}

// Name implements ActionRunner.
func (CorrectClusterDrift) Name() Action { return ActionCorrectDrift }

// Run implements ActionRunner.
func (a CorrectClusterDrift) Run(ctx context.Context, step *Step) (Applied, error) {
	if step.Live == nil {
		return Applied{}, fmt.Errorf("unable to correct drift of release %q: it is not installed", step.Release.Name)
	}
	corrected, err := drift.Restore(ctx, a.cluster, step.Release, step.Live, a.policy)
	a.log.Info("drift corrected", "release", step.Release.Name, "namespace", step.Release.Namespace, "objects", corrected, "revision", step.Live.Version)
	if err != nil {
		return Applied{Revision: step.Live.Version}, fmt.Errorf("release %q: %w", step.Release.Name, err)
	}
	return Applied{Revision: step.Live.Version, Unchanged: corrected == 0}, nil
}
