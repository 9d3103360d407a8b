package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"helm.sh/helm/v3/pkg/storage/driver"

	"github.com/digitops/digitops/daemon/history"
	"github.com/digitops/digitops/daemon/web"
	"github.com/digitops/digitops/internal/redact"
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
)

// The console's backend (issue #27): an environment's and a release's
// detail, sync now, and an operator's emergency rollback. With --shard
// package web routes every one of them to the environment's owner, whose
// loop holds the last plan and may act.

const (
	// revisionsTimeout bounds the read of a release's Helm history.
	revisionsTimeout = 20 * time.Second
	// defaultRollbackTimeout bounds a rollback's hooks when the policy
	// sets no timeout (the actions' default).
	defaultRollbackTimeout = 5 * time.Minute
)

// EnvironmentDetail is env's status and the changes its last plan did not
// carry out.
func (b webBackend) EnvironmentDetail(_ context.Context, env string) (statusapi.EnvironmentDetail, error) {
	l, err := b.d.loopOf(env, "")
	if err != nil {
		return statusapi.EnvironmentDetail{}, err
	}
	out := statusapi.EnvironmentDetail{Environment: l.snapshot(), Pending: []statusapi.PendingChange{}}
	l.mu.Lock()
	if l.last != nil {
		out.Pending = append(out.Pending, l.last.pending...)
	}
	l.mu.Unlock()
	return out, nil
}

// ReleaseDetail is one release's status row, what its last plan knew of it
// (order, takeovers), its Helm revisions read from Helm's storage (with
// the chart and images of the live one) and an operator's rollback while
// it holds.
func (b webBackend) ReleaseDetail(ctx context.Context, env, release string) (statusapi.ReleaseDetail, error) {
	l, err := b.d.loopOf(env, "")
	if err != nil {
		return statusapi.ReleaseDetail{}, err
	}
	row, ok := releaseRow(l.snapshot(), release)
	if !ok {
		return statusapi.ReleaseDetail{}, web.NotFound("environment " + env + " has no release " + release + " in its last plan")
	}
	out := statusapi.ReleaseDetail{Environment: env, Release: row, Revisions: []statusapi.HelmRevision{}, RolledBack: row.RolledBack}
	l.mu.Lock()
	if l.last != nil {
		pr := l.last.releases[release]
		out.Needs, out.Dependants = slices.Clone(pr.needs), slices.Clone(pr.dependants)
		out.Adopted, out.Orphans = slices.Clone(pr.adopted), slices.Clone(pr.orphans)
	}
	l.mu.Unlock()
	tgt := l.drift.targetNow()
	if tgt.conn.cluster == nil {
		return out, nil // not planned here yet: nothing to read Helm's storage with
	}
	ctx, cancel := context.WithTimeout(ctx, revisionsTimeout)
	defer cancel()
	revs, err := kube.ReadRevisions(ctx, tgt.conn.cluster, row.Namespace, release)
	if err != nil {
		return out, errors.New(tgt.mask(release, err.Error()))
	}
	for _, r := range revs {
		out.Revisions = append(out.Revisions, statusapi.HelmRevision{
			Revision: r.Version, Updated: r.Updated, Status: string(r.Status), Description: tgt.mask(release, r.Description),
			Chart: r.Chart, Commit: r.Labels[kube.LabelCommit], Replica: r.Labels[kube.LabelReplica],
		})
	}
	if i := liveRevision(revs, row.Revision); i >= 0 {
		out.Chart, out.AppVersion, out.Images = revs[i].Chart, revs[i].AppVersion, kube.ManifestImages(revs[i].Manifest)
	}
	return out, nil
}

// releaseRow is release's row in an environment's status.
func releaseRow(st statusapi.Environment, release string) (statusapi.Release, bool) {
	i := slices.IndexFunc(st.Releases, func(r statusapi.Release) bool { return r.Name == release })
	if i < 0 {
		return statusapi.Release{}, false
	}
	return st.Releases[i], true
}

// liveRevision is the index in revs (newest first) of the live revision:
// the status row's, else the newest; -1 when there is none.
func liveRevision(revs []kube.Revision, revision int) int {
	if i := slices.IndexFunc(revs, func(r kube.Revision) bool { return r.Version == revision }); i >= 0 {
		return i
	}
	if len(revs) == 0 {
		return -1
	}
	return 0
}

// SyncNow makes env's loop plan in full (no cheap unchanged check; a
// suspended environment plans again without applying) and sync now, with
// what the remote has now. release only names what the operator asked
// for: the environment syncs.
func (b webBackend) SyncNow(_ context.Context, env, release string) (statusapi.Environment, error) {
	d := b.d
	l, err := d.loopOf(env, release)
	if err != nil {
		return statusapi.Environment{}, err
	}
	l.planFully.Store(true)
	l.src.stale()
	d.log.Info("sync asked", "environment", env, "release", release)
	l.wakeBy(history.TriggerManual)
	return l.snapshot(), nil
}

// Rollback is an operator's emergency rollback of release to Helm revision
// to: under the environment's shard guard and the release's claim (no
// sync or drift correction acts on it meanwhile), it checks the release
// and the revision, suspends the release with a rollback mark (the next
// sync would undo the rollback), then has Helm roll it back. It wakes the
// loop and returns the release's detail.
func (b webBackend) Rollback(ctx context.Context, env, release string, to int) (statusapi.ReleaseDetail, error) {
	d := b.d
	l, err := d.loopOf(env, release)
	if err != nil {
		return statusapi.ReleaseDetail{}, err
	}
	row, _ := releaseRow(l.snapshot(), release)
	tgt := l.drift.targetNow()
	if tgt.conn.cluster == nil {
		return statusapi.ReleaseDetail{}, web.Conflict("environment " + env + " has not been planned by this replica yet; try again after its next sync")
	}
	guard, acting := d.acting(env)
	defer guard.End()
	if !acting {
		return statusapi.ReleaseDetail{}, web.Conflict("this replica does not act on environment " + env + " now (it does not lead, or the environment is moving to another replica); try again")
	}
	if !l.drift.claim([]string{release}, actorOperator) {
		return statusapi.ReleaseDetail{}, web.Conflict("a sync, a drift correction or another rollback is acting on release " + release + " now; try again when it is done")
	}
	defer l.drift.unclaim([]string{release}, actorOperator)
	// A client that goes away must not leave the suspension half-written.
	work := context.WithoutCancel(ctx)
	at := time.Now()
	prepared := false
	rb := reconciler.OperatorRollback{
		Cluster: tgt.conn.cluster, Log: l.log, Environment: env, Namespace: row.Namespace, Name: release, To: to,
		Timeout: cmp.Or(tgt.env.Policy.Timeout, defaultRollbackTimeout), MaxHistory: tgt.env.Policy.HistoryMax, Replica: d.replica(),
		Prepare: func() error {
			select {
			case <-guard.Lost():
				return web.Conflict("environment " + env + " is moving to another replica; nothing was rolled back")
			default:
			}
			if err := d.suspends.rollBack(work, env, release, to, at); err != nil {
				return fmt.Errorf("unable to suspend release %s before rolling it back (nothing was rolled back): %w", release, err)
			}
			prepared = true
			return nil
		},
	}
	written, err := rb.Run(work)
	if err != nil {
		return statusapi.ReleaseDetail{}, b.rollbackFailed(work, l, tgt, release, to, prepared, err)
	}
	d.metrics.ReleaseAction(env, release, "rollback", string(reconciler.OutcomeSucceeded))
	l.log.Info("rolled back by an operator; suspended until resumed", "release", release, "namespace", row.Namespace, "revision", to, "written", written)
	l.wakeBy(history.TriggerManual)
	return b.ReleaseDetail(ctx, env, release)
}

// rollbackFailed classifies and masks a rollback's error; after Helm acted
// it counts and logs the failure and drops the rollback mark (the release
// stays suspended, for the operator to look at).
func (b webBackend) rollbackFailed(ctx context.Context, l *envLoop, tgt watchTarget, release string, to int, prepared bool, err error) error {
	msg := tgt.mask(release, err.Error())
	switch {
	case errors.Is(err, driver.ErrReleaseNotFound), errors.Is(err, reconciler.ErrRevisionNotFound):
		return web.NotFound(msg)
	case errors.Is(err, reconciler.ErrReleaseLocked), errors.Is(err, reconciler.ErrNotOwned), errors.Is(err, web.ErrConflict):
		return web.Conflict(msg)
	case !prepared:
		return errors.New(msg)
	}
	b.d.metrics.ReleaseAction(l.name, release, "rollback", string(reconciler.OutcomeFailed))
	l.log.Error("an operator's rollback failed; the release stays suspended", "release", release, "revision", to, "error", msg)
	if ferr := b.d.suspends.forgetRollback(ctx, l.name, release); ferr != nil {
		l.log.Warn("unable to drop the mark of a failed rollback", "release", release, "error", ferr)
	}
	l.wakeBy(history.TriggerManual)
	return fmt.Errorf("%s (release %s stays suspended: resume it to let the sync put it back)", msg, release)
}

// targetNow is what the last full sync left for watch-driven checks: its
// environment and cluster connection, which the console reads with.
func (w *driftWorker) targetNow() watchTarget {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.target
}

// mask masks release's secret values (as the last load knew them) in s,
// as the status masks its errors.
func (t watchTarget) mask(release, s string) string {
	if t.env == nil {
		return s
	}
	for _, r := range t.env.Releases {
		if r.Name == release {
			return redact.Secrets(s, r.SecretValues)
		}
	}
	return s
}
