package reconciler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"

	"github.com/digitops/digitops/reconciler/kube"
)

// The refusals of an OperatorRollback (errors.Is); a release with no
// revision at all is driver.ErrReleaseNotFound.
var (
	// ErrRevisionNotFound: the release has no such revision.
	ErrRevisionNotFound = errors.New("no such revision")
	// ErrReleaseLocked: the release's newest revision is pending: another
	// operation is in progress.
	ErrReleaseLocked = errors.New("another operation is in progress")
	// ErrNotOwned: the release's newest revision is not the environment's
	// (another environment owns it, or digitops does not manage it).
	ErrNotOwned = errors.New("not owned by the environment")
)

// OperatorRollback is an operator's emergency rollback of one release to
// one of its earlier Helm revisions, outside any plan (serve's rollback
// endpoint). It runs no readiness gate and no hook wait: Helm rolls the
// objects back and returns.
//
// On success Helm has written a new revision, "Rollback to N", with the
// chart, values, manifest and labels of revision N (its digests and its
// digitops.io/commit among them), relabelled as written by digitops
// (digitops.io/revision, the replica), so that the next plan compares it
// with Git like any revision of its own: it upgrades it unless the release
// stays suspended. On a Helm failure the new revision is failed and the
// objects may be partly rolled back. On a refusal (ErrRevisionNotFound,
// ErrReleaseLocked, ErrNotOwned, driver.ErrReleaseNotFound) nothing was
// written and Prepare was not called.
//
// The caller must hold the release against every other digitops writer
// (the daemon's shard guard and the drift worker's claim): Helm's rollback
// takes no lock of its own.
type OperatorRollback struct {
	Cluster *kube.Cluster
	Log     *slog.Logger
	// Environment must own the release (digitops.io/environment of its
	// newest revision).
	Environment     string
	Namespace, Name string
	// To is the revision to roll back to.
	To int
	// Timeout bounds Helm's rollback (its hooks); MaxHistory is the
	// policy's historyMax (0: unlimited).
	Timeout    time.Duration
	MaxHistory int
	// Replica labels the new revision (kube.LabelReplica), none when empty.
	Replica string
	// Prepare, when set, is called once the checks passed, before Helm
	// acts (the daemon suspends the release there); its error stops the
	// rollback with nothing written.
	Prepare func() error
}

// Run checks the release and rolls it back; it returns the revision Helm
// wrote.
func (r OperatorRollback) Run(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := r.Cluster.ActionConfig(r.Namespace, log)
	newest, err := r.check(cfg)
	if err != nil {
		return 0, err
	}
	if r.Prepare != nil {
		if err := r.Prepare(); err != nil {
			return 0, err
		}
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	rb := action.NewRollback(cfg)
	rb.Version = r.To
	rb.Timeout = r.Timeout
	rb.MaxHistory = r.MaxHistory
	if err := rb.Run(r.Name); err != nil {
		return 0, fmt.Errorf("unable to roll release %q back to revision %d: %w", r.Name, r.To, err)
	}
	written := newest + 1
	rel, err := cfg.Releases.Get(r.Name, written)
	if err != nil {
		return written, fmt.Errorf("rolled release %q back to revision %d, but unable to read revision %d to label it: %w", r.Name, r.To, written, err)
	}
	// Helm copied revision To's labels, which record writing that
	// revision: record this one as written by digitops, as itself.
	if rel.Labels == nil {
		rel.Labels = map[string]string{}
	}
	rel.Labels[kube.LabelRevision] = strconv.Itoa(written)
	delete(rel.Labels, kube.LabelRemediation)
	if r.Replica != "" {
		rel.Labels[kube.LabelReplica] = r.Replica
	} else {
		delete(rel.Labels, kube.LabelReplica)
	}
	if err := cfg.Releases.Update(rel); err != nil {
		return written, fmt.Errorf("rolled release %q back to revision %d, but unable to label revision %d: %w", r.Name, r.To, written, err)
	}
	return written, nil
}

// check reads the release's history and returns its newest revision, or
// why the rollback is refused.
func (r OperatorRollback) check(cfg *action.Configuration) (int, error) {
	history, err := cfg.Releases.History(r.Name)
	if err == nil && len(history) == 0 {
		err = driver.ErrReleaseNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("unable to read the history of release %q: %w", r.Name, err)
	}
	var newest, target *release.Release
	for _, rel := range history {
		if newest == nil || rel.Version > newest.Version {
			newest = rel
		}
		if rel.Version == r.To {
			target = rel
		}
	}
	switch {
	case target == nil:
		return 0, fmt.Errorf("release %q has no revision %d: %w", r.Name, r.To, ErrRevisionNotFound)
	case newest.Info != nil && newest.Info.Status.IsPending():
		return 0, fmt.Errorf("release %q is %s (revision %d): %w", r.Name, newest.Info.Status, newest.Version, ErrReleaseLocked)
	case newest.Labels[kube.LabelEnvironment] != r.Environment:
		return 0, fmt.Errorf("release %q (revision %d) is %w %q", r.Name, newest.Version, ErrNotOwned, r.Environment)
	}
	return newest.Version, nil
}
