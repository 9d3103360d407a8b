package daemon

import (
	"fmt"
	"time"

	"github.com/digitops/digitops/reconciler"
)

// failedState is a desired state of a release (its chart and values) that
// failed to install or upgrade, and when the daemon tries it again.
type failedState struct {
	// ChartDigest and ValuesDigest are the desired state that failed.
	ChartDigest, ValuesDigest string
	// Failures counts the syncs in a row that failed with it.
	Failures int
	// Next is when it is tried again.
	Next time.Time
}

// backoffs are the failed releases of one environment, by release name.
type backoffs map[string]failedState

// backoffDelay is the wait after the n-th failure in a row (n >= 1):
// initial, doubled each time, at most max. It is pure.
func backoffDelay(initial, max time.Duration, n int) time.Duration {
	d := initial
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// heldBack says why the release name, about to be installed or upgraded
// to desired, waits: that desired state failed and its next attempt is not
// due at now. A different desired state (a new commit) is tried at once:
// "". It is pure.
func (b backoffs) heldBack(name string, desired reconciler.Desired, now time.Time) string {
	f, ok := b[name]
	if !ok || f.ChartDigest != desired.ChartDigest || f.ValuesDigest != desired.ValuesDigest || !now.Before(f.Next) {
		return ""
	}
	return fmt.Sprintf("failed %d time(s) with this chart and values; next attempt at %s (in %s); a commit that changes them, or `digitops retry`, tries at once",
		f.Failures, f.Next.UTC().Format(time.RFC3339), f.Next.Sub(now).Round(time.Second))
}

// record updates b from one applied step: a failed install or upgrade
// counts one more failure of its desired state and schedules the next
// attempt; a success forgets the release.
func (b backoffs) record(step *reconciler.Step, outcome reconciler.Outcome, initial, max time.Duration, now time.Time) {
	name := step.Release.Name
	switch {
	case outcome == reconciler.OutcomeSucceeded:
		delete(b, name)
	case outcome == reconciler.OutcomeFailed && (step.Action == reconciler.ActionInstall || step.Action == reconciler.ActionUpgrade):
		f := b[name]
		if f.ChartDigest != step.Desired.ChartDigest || f.ValuesDigest != step.Desired.ValuesDigest {
			f = failedState{ChartDigest: step.Desired.ChartDigest, ValuesDigest: step.Desired.ValuesDigest}
		}
		f.Failures++
		f.Next = now.Add(backoffDelay(initial, max, f.Failures))
		b[name] = f
	}
}

// due reports whether some held-back attempt is due at now.
func (b backoffs) due(now time.Time) bool {
	for _, f := range b {
		if !now.Before(f.Next) {
			return true
		}
	}
	return false
}

// forget drops the failures that no longer hold at plan: of a release the
// plan does not have, whose desired state is not the one that failed (a
// commit that changed or reverted it), or that is in sync again.
func (b backoffs) forget(plan *reconciler.Plan) {
	steps := make(map[string]*reconciler.Step, len(plan.Steps))
	for i := range plan.Steps {
		steps[plan.Steps[i].Release.Name] = &plan.Steps[i]
	}
	for name, f := range b {
		st, ok := steps[name]
		if ok && st.Status == reconciler.StatusSuspended {
			continue // nothing was observed: it still holds
		}
		if !ok || st.Action == reconciler.ActionNone || st.Desired.ChartDigest != f.ChartDigest || st.Desired.ValuesDigest != f.ValuesDigest {
			delete(b, name)
		}
	}
}
