package daemon

import (
	"reflect"
	"testing"
	"time"

	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
)

func TestReleasePhase(t *testing.T) {
	tests := []struct {
		name  string          // what the case shows
		facts releaseFacts    // the input
		want  statusapi.Phase // the phase
	}{
		{"unchanged", releaseFacts{Action: reconciler.ActionNone}, statusapi.PhaseInSync},
		{"upgraded", releaseFacts{Action: reconciler.ActionUpgrade, Outcome: reconciler.OutcomeSucceeded}, statusapi.PhaseInSync},
		{"upgrade failed", releaseFacts{Action: reconciler.ActionUpgrade, Outcome: reconciler.OutcomeFailed}, statusapi.PhaseFailing},
		{"upgrade not applied (standby)", releaseFacts{Action: reconciler.ActionUpgrade}, statusapi.PhaseOutOfSync},
		{"skipped after a failed need", releaseFacts{Action: reconciler.ActionInstall, Outcome: reconciler.OutcomeSkipped}, statusapi.PhaseOutOfSync},
		{"drift found, corrected", releaseFacts{Action: reconciler.ActionCorrectDrift, Drifted: true, Outcome: reconciler.OutcomeSucceeded}, statusapi.PhaseInSync},
		{"drift found, warn only", releaseFacts{Action: reconciler.ActionNone, Drifted: true}, statusapi.PhaseDrifted},
		{"drift correction failed", releaseFacts{Action: reconciler.ActionCorrectDrift, Drifted: true, Outcome: reconciler.OutcomeFailed}, statusapi.PhaseFailing},
		{"cannot be rendered", releaseFacts{Action: reconciler.ActionError}, statusapi.PhaseFailing},
		{"blocked by a release in error", releaseFacts{Action: reconciler.ActionBlocked}, statusapi.PhaseOutOfSync},
		{"another operation in progress", releaseFacts{Action: reconciler.ActionSkip}, statusapi.PhasePending},
		{"suspended wins", releaseFacts{Action: reconciler.ActionSkip, Suspended: true, Drifted: true}, statusapi.PhaseSuspended},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := releasePhase(tt.facts); got != tt.want {
				t.Errorf("releasePhase(%+v) = %s, want %s", tt.facts, got, tt.want)
			}
		})
	}
}

func TestEnvironmentPhase(t *testing.T) {
	synced := &statusapi.Sync{Result: "success"}
	rel := func(phases ...statusapi.Phase) []statusapi.Release {
		out := make([]statusapi.Release, len(phases))
		for i, p := range phases {
			out[i] = statusapi.Release{Phase: p}
		}
		return out
	}
	tests := []struct {
		name string                // what the case shows
		env  statusapi.Environment // the input
		want statusapi.Phase       // the phase
	}{
		{"never synced", statusapi.Environment{}, statusapi.PhasePending},
		{"all in sync", statusapi.Environment{LastSync: synced, Releases: rel("in-sync", "in-sync")}, statusapi.PhaseInSync},
		{"worst release wins", statusapi.Environment{LastSync: synced, Releases: rel("in-sync", "drifted", "out-of-sync")}, statusapi.PhaseDrifted},
		{"failing beats drifted", statusapi.Environment{LastSync: synced, Releases: rel("drifted", "failing")}, statusapi.PhaseFailing},
		{"a sync error is failing", statusapi.Environment{LastSync: synced, LastError: "boom", Releases: rel("in-sync")}, statusapi.PhaseFailing},
		{"suspended environment", statusapi.Environment{Suspended: true, LastError: "boom"}, statusapi.PhaseSuspended},
		{"a suspended release leaves the rest in sync", statusapi.Environment{LastSync: synced, Releases: rel("suspended", "in-sync")}, statusapi.PhaseInSync},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := environmentPhase(tt.env); got != tt.want {
				t.Errorf("environmentPhase = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	live := kube.LiveState{
		"egov/a":  {Name: "a", Namespace: "egov", Version: 1, Status: "deployed", Environment: "dev"},
		"egov/b":  {Name: "b", Namespace: "egov", Version: 4, Status: "deployed"},
		"other/c": {Name: "c", Namespace: "other", Version: 9, Status: "deployed", Environment: "prod"},
	}
	names := map[string]string{"a": "egov", "b": "egov"}
	base := fingerprint(live, "dev", names)
	other := live["other/c"]
	other.Version = 10
	live["other/c"] = other
	if fingerprint(live, "dev", names) != base {
		t.Error("a release of another environment changed the fingerprint")
	}
	b := live["egov/b"]
	b.Status = "pending-upgrade"
	live["egov/b"] = b
	if fingerprint(live, "dev", names) == base {
		t.Error("a declared release's status change did not change the fingerprint")
	}
}

func TestJittered(t *testing.T) {
	for range 100 {
		got := jittered(time.Minute, 0.1)
		if got < 54*time.Second || got > 66*time.Second {
			t.Fatalf("jittered(1m, 0.1) = %s, outside ±10%%", got)
		}
	}
	if got := jittered(time.Minute, -1); got != time.Minute {
		t.Errorf("no jitter: %s", got)
	}
}

func TestReleaseStatus(t *testing.T) {
	step := func(a reconciler.Action, reason string) *reconciler.Step {
		return &reconciler.Step{Action: a, Reason: reason}
	}
	tests := []struct {
		name string
		// prev is the status known before; step, rr and acted the plan's
		// step and its result; notes the drift worker's.
		prev  statusapi.Release
		step  *reconciler.Step
		rr    reconciler.ReleaseResult
		acted bool
		notes []string
		// want are the fields that must come out.
		want statusapi.Release
	}{
		{
			name:  "a full sync's failed upgrade",
			prev:  statusapi.Release{Name: "a", Revision: 3},
			step:  step(reconciler.ActionUpgrade, "values changed"),
			rr:    reconciler.ReleaseResult{Outcome: reconciler.OutcomeFailed, Error: "boom", Notes: []string{"n1"}},
			acted: true, notes: []string{"fight"},
			want: statusapi.Release{Name: "a", Revision: 3, Action: "upgrade", Reason: "values changed", Outcome: "failed", Error: "boom", Notes: []string{"n1", "fight"}, Phase: statusapi.PhaseFailing},
		},
		{
			name: "an error step reports its reason as the error",
			step: step(reconciler.ActionError, "chart.yaml:3: bad"),
			want: statusapi.Release{Action: "error", Reason: "chart.yaml:3: bad", Error: "chart.yaml:3: bad", Phase: statusapi.PhaseFailing},
		},
		{
			name: "a watch-driven check that acts on nothing keeps the last outcome, and its notes do not pile up",
			prev: statusapi.Release{Name: "a", Outcome: "succeeded", Notes: []string{"fight"}},
			step: step(reconciler.ActionNone, "unchanged"), notes: []string{"fight"},
			want: statusapi.Release{Name: "a", Action: "none", Reason: "unchanged", Outcome: "succeeded", Notes: []string{"fight"}, Phase: statusapi.PhaseInSync},
		},
		{
			name: "a release waiting for its next attempt stays failing, also after a watch-driven check",
			prev: statusapi.Release{Name: "a", Failures: 2},
			step: step(reconciler.ActionNone, "unchanged"),
			want: statusapi.Release{Name: "a", Failures: 2, Action: "none", Reason: "unchanged", Phase: statusapi.PhaseFailing},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := releaseStatus(tt.prev, tt.step, tt.rr, tt.acted, tt.notes)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("releaseStatus =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}
