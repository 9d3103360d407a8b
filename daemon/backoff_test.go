package daemon

import (
	"strings"
	"testing"
	"time"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/source/manifest"
)

func TestBackoffDelay(t *testing.T) {
	for _, tt := range []struct {
		n    int           // failures in a row
		want time.Duration // wait before the next attempt
	}{
		{1, time.Minute}, {2, 2 * time.Minute}, {3, 4 * time.Minute}, {7, time.Hour}, {60, time.Hour},
	} {
		if got := backoffDelay(time.Minute, time.Hour, tt.n); got != tt.want {
			t.Errorf("backoffDelay(1m, 1h, %d) = %s, want %s", tt.n, got, tt.want)
		}
	}
}

func TestBackoffs(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	step := func(action reconciler.Action, values string) *reconciler.Step {
		return &reconciler.Step{Release: manifest.ReleaseSpec{Name: "egov-user"}, Action: action, Desired: reconciler.Desired{ChartDigest: "c1", ValuesDigest: values}}
	}
	b := backoffs{}
	// Two failures of the same desired state: 1m, then 2m.
	b.record(step(reconciler.ActionUpgrade, "v1"), reconciler.OutcomeFailed, time.Minute, time.Hour, now)
	b.record(step(reconciler.ActionUpgrade, "v1"), reconciler.OutcomeFailed, time.Minute, time.Hour, now)
	if f := b["egov-user"]; f.Failures != 2 || !f.Next.Equal(now.Add(2*time.Minute)) {
		t.Fatalf("after two failures: %+v", f)
	}
	tests := []struct {
		name    string             // the case
		desired reconciler.Desired // planned
		at      time.Time          // when the plan is made
		held    bool               // whether it waits
	}{
		{"same state, not due", reconciler.Desired{ChartDigest: "c1", ValuesDigest: "v1"}, now.Add(time.Minute), true},
		{"same state, due", reconciler.Desired{ChartDigest: "c1", ValuesDigest: "v1"}, now.Add(2 * time.Minute), false},
		{"a new commit", reconciler.Desired{ChartDigest: "c1", ValuesDigest: "v2"}, now.Add(time.Minute), false},
	}
	for _, tt := range tests {
		why := b.heldBack("egov-user", tt.desired, tt.at)
		if held := why != ""; held != tt.held {
			t.Errorf("%s: held back %v (%q), want %v", tt.name, held, why, tt.held)
		} else if held && !strings.Contains(why, "failed 2 time(s)") {
			t.Errorf("%s: reason %q", tt.name, why)
		}
	}
	if why := b.heldBack("egov-mdms", reconciler.Desired{ChartDigest: "c1", ValuesDigest: "v1"}, now); why != "" {
		t.Errorf("another release is held back: %q", why)
	}
	if b.due(now.Add(time.Minute)) || !b.due(now.Add(2*time.Minute)) {
		t.Error("due is wrong")
	}
	// A failure of a new desired state starts over; a success forgets.
	b.record(step(reconciler.ActionUpgrade, "v2"), reconciler.OutcomeFailed, time.Minute, time.Hour, now)
	if f := b["egov-user"]; f.Failures != 1 || f.ValuesDigest != "v2" {
		t.Errorf("a new state's failure: %+v", f)
	}
	b.record(step(reconciler.ActionUpgrade, "v2"), reconciler.OutcomeSucceeded, time.Minute, time.Hour, now)
	if len(b) != 0 {
		t.Errorf("a success should forget the release: %+v", b)
	}
}

func TestBackoffs_forget(t *testing.T) {
	failed := failedState{ChartDigest: "c1", ValuesDigest: "v1", Failures: 3}
	plan := func(action reconciler.Action, values string) *reconciler.Plan {
		return &reconciler.Plan{Steps: []reconciler.Step{{Release: manifest.ReleaseSpec{Name: "egov-user"}, Action: action, Desired: reconciler.Desired{ChartDigest: "c1", ValuesDigest: values}}}}
	}
	for _, tt := range []struct {
		name string
		plan *reconciler.Plan
		kept bool
	}{
		{"held back: same desired state, still to upgrade", plan(reconciler.ActionUpgrade, "v1"), true},
		{"suspended or held back (skip) with the same state", plan(reconciler.ActionSkip, "v1"), true},
		{"a commit reverted it: in sync again", plan(reconciler.ActionNone, "v0"), false},
		{"a commit changed its values", plan(reconciler.ActionUpgrade, "v2"), false},
		{"removed from Git", &reconciler.Plan{}, false},
		{"suspended: nothing observed, so it still holds", &reconciler.Plan{Steps: []reconciler.Step{{Release: manifest.ReleaseSpec{Name: "egov-user"}, Status: reconciler.StatusSuspended, Action: reconciler.ActionSkip}}}, true},
	} {
		b := backoffs{"egov-user": failed}
		b.forget(tt.plan)
		if _, kept := b["egov-user"]; kept != tt.kept {
			t.Errorf("%s: kept = %v, want %v", tt.name, kept, tt.kept)
		}
	}
}
