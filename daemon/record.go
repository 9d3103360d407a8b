package daemon

import (
	"fmt"
	"strings"
	"time"

	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/metrics"
	"github.com/digitops/digitops/notify"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/source/git"
	"github.com/digitops/digitops/source/manifest"
)

// What a sync records: release statuses, metrics, backoffs and the end of
// a sync in the environment's status and the log.

// syncOutcome is what record found in a plan and its result.
type syncOutcome struct {
	// settled: nothing is left to do (no failure, no pending skip, no
	// planned change left unapplied).
	settled bool
	// err summarises release failures.
	err error
}

// record updates metrics and the release status from a plan and the
// result of applying it (nil when nothing was applied). A release the sync
// did not act on whose status a watch-driven check wrote after the sync
// started keeps that newer status.
func (l *envLoop) record(plan *reconciler.Plan, result *reconciler.Result, suspended map[string]bool, leader bool, policy manifest.SyncPolicy, started time.Time) syncOutcome {
	now := time.Now()
	var heldBack []string
	out := syncOutcome{settled: true}
	results := map[string]reconciler.ReleaseResult{}
	if result != nil {
		for _, rr := range result.Releases {
			results[rr.Namespace+"/"+rr.Name] = rr
		}
		out.err = result.Err()
	}
	seen := map[string]string{}
	releases := make([]statusapi.Release, 0, len(plan.Steps))
	for i := range plan.Steps {
		step := &plan.Steps[i]
		name, ns := step.Release.Name, step.Release.Namespace
		rr, applied := results[ns+"/"+name]
		drifted := step.Action == reconciler.ActionCorrectDrift || len(step.Drift) > 0
		prev := statusapi.Release{Name: name, Namespace: ns, Suspended: suspended[name]}
		if step.Live != nil {
			prev.Revision = step.Live.Version
		}
		l.mu.Lock()
		if applied {
			l.failed.record(step, rr.Outcome, policy.Backoff, policy.MaxBackoff, now)
		}
		if f, ok := l.failed[name]; ok {
			next := f.Next
			prev.Failures, prev.NextAttempt = f.Failures, &next
			heldBack = append(heldBack, name)
		}
		l.mu.Unlock()
		st := releaseStatus(prev, step, rr, applied, l.drift.fightNotesOf(name))
		if applied && acts(step.Action) {
			l.d.metrics.ReleaseAction(l.name, name, string(step.Action), string(rr.Outcome))
		}
		// A pending release (another operation in progress) is re-planned
		// when its live status changes or at the drift interval.
		if st.Phase != statusapi.PhaseInSync && st.Phase != statusapi.PhaseSuspended && st.Phase != statusapi.PhasePending {
			out.settled = false
		}
		if step.Action == reconciler.ActionUninstall {
			if applied && rr.Outcome == reconciler.OutcomeSucceeded {
				continue // gone: its series are forgotten below
			}
		} else {
			if applied && rr.Outcome == reconciler.OutcomeUnchanged && step.Action == reconciler.ActionCorrectDrift {
				drifted = false // already put back: the plan read a cache a moment behind
			}
			l.d.metrics.Drift(l.name, name, ns, drifted, applied && rr.Outcome == reconciler.OutcomeSucceeded)
		}
		seen[name] = ns
		l.mu.Lock()
		if newer, ok := l.watchedSince(name, ns, started); ok && !applied {
			st = newer
		}
		l.mu.Unlock()
		releases = append(releases, st)
	}
	if !leader && plan.Summary().Writes() > 0 {
		out.settled = false
	}
	if out.err == nil && len(heldBack) > 0 {
		out.err = fmt.Errorf("%d release(s) failed and wait for their next attempt: %s", len(heldBack), strings.Join(heldBack, ", "))
	}
	if errs := plan.Errors(); out.err == nil && len(errs) > 0 {
		names := make([]string, len(errs))
		for i := range errs {
			names[i] = errs[i].Release.Name
		}
		out.err = fmt.Errorf("%d release(s) cannot be rendered (see their errors): %s", len(errs), strings.Join(names, ", "))
	}
	for name := range l.releases {
		if _, ok := seen[name]; !ok {
			l.d.metrics.ForgetRelease(l.name, name)
		}
	}
	l.releases = seen
	l.mu.Lock()
	l.status.Releases = releases
	l.status.Suspended = false
	l.mu.Unlock()
	return out
}

// watchedSince returns the status of a release a watch-driven check wrote
// after t. l.mu is held.
func (l *envLoop) watchedSince(name, namespace string, t time.Time) (statusapi.Release, bool) {
	if !l.watchedAt[name].After(t) {
		return statusapi.Release{}, false
	}
	for _, rs := range l.status.Releases {
		if rs.Name == name && rs.Namespace == namespace {
			return rs, true
		}
	}
	return statusapi.Release{}, false
}

// acts reports whether a release's action is counted by the release-action
// metric: every action but none and skip, so also error and blocked, which
// run no Helm operation.
func acts(a reconciler.Action) bool {
	return a != reconciler.ActionNone && a != reconciler.ActionSkip
}

// finish records a sync that did not plan.
func (l *envLoop) finish(start time.Time, result metrics.SyncResult, err error) {
	l.finishPlanned(start, result, err, nil)
}

// failBeforePlan ends a sync that failed before it had a plan (fetch,
// load, cluster, live state, plan) and tells the environment's providers,
// as the last load configured them (this revision may not load): the
// failure that stops every release is the one people most need to hear of.
func (l *envLoop) failBeforePlan(start time.Time, snap git.Snapshot, err error) {
	l.finish(start, metrics.SyncFailure, err)
	if l.d.leading.Load() {
		l.notify(l.lastProviders(), notify.SyncFailed, snap.Revision, snap.Commit, nil, err.Error(), nil)
	}
}

// finishPlanned records the end of a sync in the metrics, the status and
// the log.
func (l *envLoop) finishPlanned(start time.Time, result metrics.SyncResult, err error, plan *reconciler.Plan) {
	end := time.Now()
	d := end.Sub(start)
	l.d.metrics.Sync(l.name, result, d, end)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.status.LastSync = syncStatus(start, d, result, l.attempted, plan)
	l.status.Suspended = result == metrics.SyncSuspended
	switch {
	case err != nil:
		l.status.LastError = err.Error()
		l.log.Error("sync failed", "revision", l.attempted, "duration", d, "error", err)
	case result == metrics.SyncSuccess || result == metrics.SyncUnchanged:
		l.status.LastError = ""
		l.status.LastSuccess = &end
	}
	if err == nil && result != metrics.SyncUnchanged {
		l.log.Info("synced", "revision", l.attempted, "result", result, "duration", d)
	}
	l.status.Phase = environmentPhase(l.status)
}

// releaseStatus is a release's status from a plan's step and, when it
// acted, its result, over prev (name, namespace, suspension, failures and
// revision as known before): the one place a release's status is made, for
// full syncs and watch-driven checks alike. notes are the drift worker's
// (fights) and follow the result's.
func releaseStatus(prev statusapi.Release, step *reconciler.Step, rr reconciler.ReleaseResult, acted bool, notes []string) statusapi.Release {
	// A step that did not act keeps the last outcome and error; the
	// plan masked the reason and the drift.
	st := prev
	st.Action, st.Reason, st.Drift = statusapi.Action(step.Action), step.Reason, driftItems(step.Drift)
	st.Notes = nil
	if step.Action == reconciler.ActionError {
		st.Error = st.Reason
	}
	facts := releaseFacts{Action: step.Action, Suspended: st.Suspended, Drifted: step.Action == reconciler.ActionCorrectDrift || len(step.Drift) > 0, Failing: st.Failures > 0}
	if acted {
		facts.Outcome = rr.Outcome
		st.Outcome, st.Error, st.Notes = statusapi.Outcome(rr.Outcome), rr.Error, rr.Notes
		if rr.RevisionAfter > 0 {
			st.Revision = rr.RevisionAfter
		}
	}
	st.Notes = append(st.Notes, notes...)
	st.Phase = releasePhase(facts)
	return st
}

// The status API's types are its own (internal/statusapi imports no
// digitops package): these make them from the reconciler's, the metrics'
// and the loader's, with the same JSON.

// syncStatus is the status of a sync that started at start, took d, ended
// with result and ran against revision; plan is nil when it did not plan.
func syncStatus(start time.Time, d time.Duration, result metrics.SyncResult, revision string, plan *reconciler.Plan) *statusapi.Sync {
	sync := &statusapi.Sync{Started: start, Duration: d.Round(time.Millisecond).String(), Result: statusapi.SyncResult(result), Revision: revision}
	if plan != nil {
		s := statusapi.Summary(plan.Summary())
		sync.Summary = &s
	}
	return sync
}

// driftItems are a step's drift items for the status, nil when none.
func driftItems(items []drift.Item) []statusapi.DriftItem {
	if items == nil {
		return nil
	}
	out := make([]statusapi.DriftItem, len(items))
	for i, d := range items {
		out[i] = statusapi.DriftItem{Object: d.Object, Path: d.Path, Kind: string(d.Kind), Before: d.Before, After: d.After, Manager: d.Manager}
	}
	return out
}

// warnings are an environment's load warnings for the status, nil when
// none.
func warnings(ws []manifest.Warning) []statusapi.Warning {
	if ws == nil {
		return nil
	}
	out := make([]statusapi.Warning, len(ws))
	for i, w := range ws {
		out[i] = statusapi.Warning(w)
	}
	return out
}
