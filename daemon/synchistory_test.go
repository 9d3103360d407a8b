package daemon

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitops/digitops/daemon/history"
	"github.com/digitops/digitops/metrics"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/source/manifest"
)

func TestSyncEntry(t *testing.T) {
	start := time.Date(2025, 11, 30, 10, 2, 40, 0, time.UTC)
	end := start.Add(3412 * time.Millisecond)
	step := func(name string, a reconciler.Action) reconciler.Step {
		return reconciler.Step{Release: manifest.ReleaseSpec{Name: name, Namespace: "egov"}, Action: a}
	}
	plan := &reconciler.Plan{Steps: []reconciler.Step{
		step("egov-user", reconciler.ActionUpgrade), step("egov-config", reconciler.ActionRecord),
		step("egov-mdms", reconciler.ActionNone), step("pgr", reconciler.ActionError),
		step("old", reconciler.ActionUninstall), step("busy", reconciler.ActionSkip),
		step("pgr-ui", reconciler.ActionBlocked), step("zuul", reconciler.ActionInstall),
	}}
	rr := func(name string, a reconciler.Action, o reconciler.Outcome, after int, err string) reconciler.ReleaseResult {
		return reconciler.ReleaseResult{Name: name, Namespace: "egov", Action: a, Outcome: o, RevisionBefore: 1, RevisionAfter: after, Error: err}
	}
	result := &reconciler.Result{Releases: []reconciler.ReleaseResult{
		rr("egov-user", reconciler.ActionUpgrade, reconciler.OutcomeSucceeded, 4, ""),
		rr("egov-config", reconciler.ActionRecord, reconciler.OutcomeSucceeded, 3, ""),
		rr("egov-mdms", reconciler.ActionNone, reconciler.OutcomeUnchanged, 2, ""),
		rr("pgr", reconciler.ActionError, reconciler.OutcomeFailed, 0, `values.yaml:3: release "pgr": `+strings.Repeat("x", 400)),
		rr("old", reconciler.ActionUninstall, reconciler.OutcomeSucceeded, 0, ""),
		rr("busy", reconciler.ActionSkip, reconciler.OutcomeSkipped, 5, ""),
		rr("pgr-ui", reconciler.ActionBlocked, reconciler.OutcomeSkipped, 0, "needs pgr"),
		rr("zuul", reconciler.ActionInstall, reconciler.OutcomeFailed, 1, "timed out"),
	}}
	tests := []struct {
		name     string             // what the case shows
		res      metrics.SyncResult // the sync's result
		err      error              // its error
		plan     *reconciler.Plan   // nil: failed before it planned
		result   *reconciler.Result // nil: did not apply
		summary  bool               // the entry has counts
		releases string             // name:action:outcome:revision of each release, in order
		error    string             // the entry's error
	}{
		{name: "failed before it planned", res: metrics.SyncFailure, err: errors.New("unable to fetch the source: timeout"), error: "unable to fetch the source: timeout"},
		{name: "standby: planned, did not act", res: metrics.SyncStandby, plan: plan, summary: true},
		{
			name: "applied: the releases acted on and those in error", res: metrics.SyncFailure, err: errors.New("1 release(s) failed: zuul"),
			plan: plan, result: result, summary: true,
			releases: "egov-user:upgrade:succeeded:4 egov-config:record:succeeded:3 pgr:error:failed:0 old:uninstall:succeeded:0 zuul:install:failed:0",
			error:    "1 release(s) failed: zuul",
		},
		{name: "a long error is cut", res: metrics.SyncFailure, err: errors.New(strings.Repeat("e", 2000)), error: strings.Repeat("e", history.MaxErrorBytes-3) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := syncEntry(start, end, history.TriggerWebhook, "main@sha1:abc", "abc", tt.res, tt.err, tt.plan, tt.result)
			if !e.Started.Equal(start) || e.Duration != "3.412s" || e.Trigger != history.TriggerWebhook || e.Revision != "main@sha1:abc" || e.Commit != "abc" || string(e.Result) != string(tt.res) {
				t.Errorf("entry = %+v", e)
			}
			if (e.Summary != nil) != tt.summary {
				t.Errorf("summary %+v, want one: %v", e.Summary, tt.summary)
			}
			if e.Summary != nil && (e.Summary.Upgrade != 1 || e.Summary.Error != 1 || e.Summary.Blocked != 1 || e.Summary.Uninstall != 1) {
				t.Errorf("summary %+v, want the plan's counts", *e.Summary)
			}
			var got []string
			for _, r := range e.Releases {
				got = append(got, strings.Join([]string{r.Name, r.Action, r.Outcome, itoa(r.Revision)}, ":"))
				if r.Namespace != "egov" {
					t.Errorf("release %s: namespace %q", r.Name, r.Namespace)
				}
				if len(r.Error) > history.MaxReleaseErrorBytes {
					t.Errorf("release %s: error of %d bytes, over %d", r.Name, len(r.Error), history.MaxReleaseErrorBytes)
				}
			}
			if g := strings.Join(got, " "); g != tt.releases {
				t.Errorf("releases\n%s\nwant\n%s", g, tt.releases)
			}
			if e.Error != tt.error {
				t.Errorf("error %q, want %q", e.Error, tt.error)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestHistorySummary: the history's counts are the plan's, under the
// same JSON keys (a count added to reconciler.Summary must be added to
// history.Summary).
func TestHistorySummary(t *testing.T) {
	var s reconciler.Summary
	v := reflect.ValueOf(&s).Elem()
	for i := range v.NumField() {
		v.Field(i).SetInt(int64(i + 1))
	}
	want, _ := json.Marshal(s)
	got, _ := json.Marshal(historySummary(s))
	if string(got) != string(want) {
		t.Errorf("history summary\n%s\nwant the plan's\n%s", got, want)
	}
}

// TestWakeBy: a wake says why; the last reason before the loop runs is
// its sync's trigger, and a wake is one sync however many come.
func TestWakeBy(t *testing.T) {
	l := newTestLoop(t)
	l.wake = make(chan struct{}, 1)
	l.wakeBy(history.TriggerWebhook)
	l.wakeBy(history.TriggerRollout)
	if len(l.wake) != 1 {
		t.Fatalf("%d wakes pending, want 1", len(l.wake))
	}
	<-l.wake
	if got := l.takeWokenBy(); got != history.TriggerRollout {
		t.Errorf("trigger %q, want rollout (the last wake's)", got)
	}
	if got := l.takeWokenBy(); got != history.TriggerPoll {
		t.Errorf("trigger %q once taken, want poll", got)
	}
}
