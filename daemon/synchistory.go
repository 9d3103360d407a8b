package daemon

import (
	"context"
	"time"

	"github.com/digitops/digitops/daemon/history"
	"github.com/digitops/digitops/metrics"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/source/git"
)

// The sync history (package history): each environment loop's ring, what
// woke a loop, the entries its syncs and its watch-driven corrections
// make, and the history endpoint.

// historyRing returns the (empty) history ring of environment name: a
// ConfigMap in the state namespace of the home cluster, written while
// this replica acts. The loop runs and so loads it.
func (d *Daemon) historyRing(name string) *history.Ring {
	ns := d.stateNamespace()
	return history.New(name, history.Options{
		ConfigMaps: func() (history.ConfigMaps, error) {
			home, err := d.homeClient()
			if err != nil {
				return nil, err
			}
			return home.CoreV1().ConfigMaps(ns), nil
		},
		Namespace: ns,
		Leading:   d.leading.Load,
		Log:       d.log.With("environment", name),
	})
}

// wakeBy wakes the loop now, saying why: the sync it wakes has trigger t
// (when wakes come together, the last one's).
func (l *envLoop) wakeBy(t history.Trigger) {
	l.mu.Lock()
	l.wokenBy = t
	l.mu.Unlock()
	wake(l.wake)
}

// takeWokenBy returns, and forgets, why the loop was last woken.
func (l *envLoop) takeWokenBy() history.Trigger {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.wokenBy
	l.wokenBy = ""
	if t == "" {
		t = history.TriggerPoll // a wake that said nothing: treat it as the interval's
	}
	return t
}

// remember appends a sync that planned or failed to the history, to be
// stored when this replica acted (it leads). The cheap unchanged checks
// and a suspended environment's no-ops are not history.
func (l *envLoop) remember(p *pass, res metrics.SyncResult, err error, synced *reconciler.Synced) {
	switch res {
	case metrics.SyncSuccess, metrics.SyncFailure, metrics.SyncStandby:
	default:
		return
	}
	leader := p.leader
	var plan *reconciler.Plan
	var result *reconciler.Result
	if synced != nil {
		plan, result = synced.Plan, synced.Result
	} else {
		leader = l.d.leading.Load() // failed before it planned
	}
	e := syncEntry(p.start, time.Now(), p.trigger, p.snap.Revision, l.gitCommit(p.snap.Commit), res, err, plan, result)
	l.history.Append(e, leader)
}

// rememberWatch appends a watch-driven check that corrected drift, or
// tried to, to the history; one that found nothing to correct is not
// history.
func (l *envLoop) rememberWatch(start time.Time, synced reconciler.Synced, revision, commit string, leader bool) {
	if synced.Plan == nil || synced.Result == nil {
		return
	}
	acted := false
	for _, rr := range synced.Result.Releases {
		acted = acted || rr.Action.Writes()
	}
	if !acted {
		return
	}
	res, err := metrics.SyncSuccess, synced.Result.Err()
	if err != nil {
		res = metrics.SyncFailure
	}
	l.history.Append(syncEntry(start, time.Now(), history.TriggerWatch, revision, l.gitCommit(commit), res, err, synced.Plan, synced.Result), leader)
}

// gitCommit is commit when the loop's source is a Git repository, ""
// for a directory's digest.
func (l *envLoop) gitCommit(commit string) string {
	if l.src == nil {
		return ""
	}
	return l.src.gitCommit(git.Snapshot{Commit: commit})
}

// syncEntry is the history entry of a sync that started at start and
// ended at end: its counts when it planned, and the releases it acted on
// (every action that writes, and releases in error) when it applied.
// Errors are stored as the sync and the reconciler made them (masked),
// cut to the history's limits.
func syncEntry(start, end time.Time, trigger history.Trigger, revision, commit string, res metrics.SyncResult, err error, plan *reconciler.Plan, result *reconciler.Result) history.Entry {
	e := history.Entry{
		Started:  start,
		Duration: end.Sub(start).Round(time.Millisecond).String(),
		Trigger:  trigger,
		Revision: revision,
		Commit:   commit,
		Result:   history.Result(res),
	}
	if err != nil {
		e.Error = history.Cut(err.Error(), history.MaxErrorBytes)
	}
	if plan != nil {
		s := historySummary(plan.Summary())
		e.Summary = &s
	}
	if result == nil {
		return e
	}
	for _, rr := range result.Releases {
		if !rr.Action.Writes() && rr.Action != reconciler.ActionError {
			continue
		}
		r := history.Release{Name: rr.Name, Namespace: rr.Namespace, Action: string(rr.Action), Outcome: string(rr.Outcome), Error: history.Cut(rr.Error, history.MaxReleaseErrorBytes)}
		if rr.Outcome == reconciler.OutcomeSucceeded {
			r.Revision = rr.RevisionAfter
		}
		e.Releases = append(e.Releases, r)
	}
	return e
}

// historySummary is a plan's summary as the history stores it.
func historySummary(s reconciler.Summary) history.Summary {
	return history.Summary{
		Install: s.Install, Upgrade: s.Upgrade, Record: s.Record, Correct: s.Correct, Unlock: s.Unlock,
		DeleteOrphans: s.DeleteOrphans, Uninstall: s.Uninstall, Skip: s.Skip, Unchanged: s.Unchanged,
		Error: s.Error, Blocked: s.Blocked,
	}
}

// History returns env's sync history, newest first; with release, the
// syncs that acted on it, each with that release alone. A release the
// environment no longer has still has its history.
func (b webBackend) History(ctx context.Context, env, release string) (history.Document, error) {
	l, err := b.d.loopOf(env, "")
	if err != nil {
		return history.Document{}, err
	}
	entries := l.history.List(ctx)
	if release != "" {
		entries = history.Touching(entries, release)
	}
	return history.Document{Environment: env, Entries: entries, Error: l.history.Err()}, nil
}
