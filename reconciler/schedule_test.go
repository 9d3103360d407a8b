package reconciler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitops/digitops/internal/redact"
	"github.com/digitops/digitops/source/manifest"
)

// fakeRunners act on steps without a cluster: each release's action takes
// hold, fails when named in fail, and is recorded in order; Ready fails for
// the releases named in notReady.
type fakeRunners struct {
	hold     time.Duration
	fail     map[string]bool
	notReady map[string]bool

	mu       sync.Mutex
	events   []string // "start a", "end a"
	inFlight int
	peak     int
	ready    map[string]int // Ready calls by release
}

func (f *fakeRunners) Runner(a Action) (ActionRunner, bool) {
	if !a.Writes() {
		return nil, false
	}
	return fakeRunner{f: f, action: a}, true
}

func (f *fakeRunners) Ready(_ context.Context, step *Step) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ready == nil {
		f.ready = map[string]int{}
	}
	f.ready[step.Release.Name]++
	if f.notReady[step.Release.Name] {
		return errors.New("0/1 replicas ready")
	}
	return nil
}

func (f *fakeRunners) record(event string, delta int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, event)
	f.inFlight += delta
	f.peak = max(f.peak, f.inFlight)
}

// index is the position of an event, -1 when it did not happen.
func (f *fakeRunners) index(event string) int { return slices.Index(f.events, event) }

type fakeRunner struct {
	f      *fakeRunners
	action Action
}

func (r fakeRunner) Name() Action { return r.action }

func (r fakeRunner) Run(ctx context.Context, step *Step) (Applied, error) {
	name := step.Release.Name
	if step.Release.Namespace != "egov" {
		name += "@" + step.Release.Namespace
	}
	r.f.record("start "+name, 1)
	defer r.f.record("end "+name, -1)
	select {
	case <-time.After(r.f.hold):
	case <-ctx.Done():
		return Applied{}, ctx.Err()
	}
	if r.f.fail[name] {
		return Applied{}, fmt.Errorf("unable to %s release %q: boom (password hunter2)", r.action, name)
	}
	return Applied{Revision: 7}, nil
}

// step builds a plan step: name, action, then what it needs.
func step(name string, action Action, needs ...string) Step {
	return Step{Release: manifest.ReleaseSpec{Name: name, Namespace: "egov", Needs: needs, SecretValues: []string{"hunter2"}}, Action: action, Reason: "because"}
}

// runPlan schedules steps with runners at a concurrency, drained when
// drain is closed.
func runPlan(ctx context.Context, r Runners, concurrency int, drain chan struct{}, steps ...Step) ([]ReleaseResult, *Plan) {
	plan := &Plan{Environment: "dev", Steps: steps}
	s := &scheduler{runners: r, concurrency: concurrency, log: slog.New(slog.DiscardHandler), drain: drain}
	return s.run(ctx, plan), plan
}

// outcomes sums results up as "name outcome[: error]".
func outcomes(results []ReleaseResult) []string {
	out := make([]string, len(results))
	for i, r := range results {
		out[i] = r.Name + " " + string(r.Outcome)
		if r.Error != "" {
			out[i] += ": " + r.Error
		}
	}
	return out
}

func TestSchedule_dependencyOrder(t *testing.T) {
	f := &fakeRunners{hold: 5 * time.Millisecond}
	results, _ := runPlan(context.Background(), f, 4, nil,
		step("a", ActionInstall), step("b", ActionUpgrade, "a"), step("c", ActionInstall, "a"), step("d", ActionInstall, "b", "c"))
	for _, r := range results {
		if r.Outcome != OutcomeSucceeded || r.RevisionAfter != 7 {
			t.Fatalf("got %v", outcomes(results))
		}
	}
	for _, order := range [][2]string{{"end a", "start b"}, {"end a", "start c"}, {"end b", "start d"}, {"end c", "start d"}} {
		if f.index(order[0]) > f.index(order[1]) {
			t.Errorf("%s after %s: %v", order[0], order[1], f.events)
		}
	}
	if f.peak != 2 {
		t.Errorf("b and c need only a: peak %d at once, want 2 (%v)", f.peak, f.events)
	}
}

func TestSchedule_concurrencyLimit(t *testing.T) {
	f := &fakeRunners{hold: 10 * time.Millisecond}
	var steps []Step
	for i := range 6 {
		steps = append(steps, step(fmt.Sprintf("svc-%d", i), ActionInstall))
	}
	results, _ := runPlan(context.Background(), f, 2, nil, steps...)
	if f.peak != 2 {
		t.Errorf("peak %d releases at once, want the concurrency, 2", f.peak)
	}
	if len(results) != 6 {
		t.Fatalf("%d results, want 6", len(results))
	}
}

// TestSchedule_recordsBesideTheLimit: records (a storage Secret's labels,
// no Helm action) do not queue behind the concurrency limit, which still
// holds for the releases that act, and have a bound of their own.
func TestSchedule_recordsBesideTheLimit(t *testing.T) {
	f := &fakeRunners{hold: 20 * time.Millisecond}
	steps := []Step{step("upgraded", ActionUpgrade), step("installed", ActionInstall)}
	for i := range recordConcurrency + 4 {
		steps = append(steps, step(fmt.Sprintf("recorded-%d", i), ActionRecord))
	}
	results, _ := runPlan(context.Background(), f, 1, nil, steps...)
	for _, r := range results {
		if r.Outcome != OutcomeSucceeded {
			t.Errorf("%s: %s %s", r.Name, r.Outcome, r.Error)
		}
	}
	// At concurrency 1 the two Helm actions never overlap; the records
	// run beside them, at most recordConcurrency at once.
	if f.index("end upgraded") > f.index("start installed") && f.index("end installed") > f.index("start upgraded") {
		t.Errorf("the upgrade and the install overlapped at concurrency 1: %v", f.events)
	}
	if want := recordConcurrency + 1; f.peak != want {
		t.Errorf("peak %d steps at once, want %d: one Helm action and %d records", f.peak, want, recordConcurrency)
	}
}

func TestSchedule_failureStopsDependantsNotSiblings(t *testing.T) {
	f := &fakeRunners{fail: map[string]bool{"a": true}}
	results, _ := runPlan(context.Background(), f, 2, nil,
		step("a", ActionUpgrade), step("b", ActionUpgrade, "a"), step("d", ActionInstall, "b"), step("c", ActionInstall))
	want := []string{
		`a failed: unable to upgrade release "a": boom (` + redact.Secrets("password hunter2", []string{"hunter2"}) + ")",
		`b skipped: dependency "a" did not succeed`,
		`d skipped: dependency "b" did not succeed`,
		"c succeeded",
	}
	if got := outcomes(results); !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if strings.Contains(results[0].Error, "hunter2") {
		t.Errorf("the error shows the secret: %s", results[0].Error)
	}
}

func TestSchedule_nonActingSteps(t *testing.T) {
	f := &fakeRunners{fail: map[string]bool{"failing": true}}
	results, _ := runPlan(context.Background(), f, 2, nil,
		step("broken", ActionError), step("blocked", ActionBlocked, "broken"), step("pending", ActionSkip),
		step("after-pending", ActionInstall, "pending"), step("same", ActionNone),
		step("failing", ActionUpgrade), step("in-sync", ActionNone, "failing"))
	want := []string{
		"broken failed: because",
		"blocked skipped: because",
		"pending skipped",
		// A release skipped because another operation holds it does not
		// stop what needs it.
		"after-pending succeeded",
		"same unchanged",
		`failing failed: unable to upgrade release "failing": boom (` + redact.Secrets("password hunter2", []string{"hunter2"}) + ")",
		// Unchanged, it needed nothing done: not skipped for its need.
		"in-sync unchanged",
	}
	if got := outcomes(results); !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestSchedule_unchangedNeedReadyOnce(t *testing.T) {
	f := &fakeRunners{notReady: map[string]bool{"db": true}}
	results, _ := runPlan(context.Background(), f, 2, nil,
		step("db", ActionNone), step("cfg", ActionNone), step("x", ActionInstall, "db"), step("y", ActionUpgrade, "db", "cfg"),
		step("z", ActionNone, "db"))
	want := []string{
		"db unchanged",
		"cfg unchanged",
		`x skipped: dependency "db" is not ready: 0/1 replicas ready`,
		`y skipped: dependency "db" is not ready: 0/1 replicas ready`,
		"z unchanged",
	}
	if got := outcomes(results); !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if f.ready["db"] != 1 {
		t.Errorf("db checked %d times, want once for its two dependants", f.ready["db"])
	}
	if f.ready["cfg"] > 1 {
		t.Errorf("cfg checked %d times", f.ready["cfg"])
	}
}

func TestSchedule_noActionReadsNothing(t *testing.T) {
	f := &fakeRunners{}
	runPlan(context.Background(), f, 2, nil, step("a", ActionNone), step("b", ActionNone, "a"))
	if len(f.ready) != 0 || len(f.events) != 0 {
		t.Errorf("a sync where nothing acts checked %v and ran %v", f.ready, f.events)
	}
}

func TestSchedule_drain(t *testing.T) {
	drain := make(chan struct{})
	f := &fakeRunners{hold: 30 * time.Millisecond}
	go func() {
		// Close the drain once the first release acts.
		for {
			f.mu.Lock()
			started := len(f.events) > 0
			f.mu.Unlock()
			if started {
				close(drain)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	results, _ := runPlan(context.Background(), f, 1, drain, step("a", ActionInstall), step("b", ActionInstall), step("c", ActionInstall))
	var succeeded, drained int
	for _, r := range results {
		switch {
		case r.Outcome == OutcomeSucceeded:
			succeeded++
		case r.Outcome == OutcomeSkipped && r.Error == "shutting down: not started":
			drained++
		default:
			t.Errorf("%s: %s %s", r.Name, r.Outcome, r.Error)
		}
	}
	if succeeded != 1 || drained != 2 {
		t.Errorf("%d finished and %d drained, want 1 and 2 (%v)", succeeded, drained, outcomes(results))
	}
}

func TestSchedule_cancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := &fakeRunners{}
	results, _ := runPlan(ctx, f, 1, nil, step("a", ActionInstall), step("b", ActionInstall, "a"))
	for _, r := range results {
		if r.Outcome != OutcomeSkipped || r.Error != "cancelled: context canceled" {
			t.Errorf("%s: %s %q, want skipped as cancelled", r.Name, r.Outcome, r.Error)
		}
	}
	if len(f.events) != 0 {
		t.Errorf("ran %v after the context ended", f.events)
	}
}

func TestSchedule_leavesThePlanAlone(t *testing.T) {
	f := &fakeRunners{fail: map[string]bool{"b": true}}
	steps := []Step{step("a", ActionInstall), step("b", ActionUpgrade, "a"), step("c", ActionNone)}
	steps[0].rendered = "kind: ConfigMap\n"
	before := make([]Step, len(steps))
	for i, st := range steps {
		before[i] = st
		before[i].Release.Needs = slices.Clone(st.Release.Needs)
	}
	_, plan := runPlan(context.Background(), f, 2, nil, steps...)
	if !reflect.DeepEqual(plan.Steps, before) {
		t.Error("running the plan wrote to its steps")
	}
}

// A release moved to another namespace is two steps of one name: the
// install where Git wants it and the uninstall of the old one. Both run
// once; dependants wait for the install.
func TestSchedule_releaseMovedNamespace(t *testing.T) {
	f := &fakeRunners{hold: 5 * time.Millisecond}
	moved := step("egov-mdms", ActionInstall)
	moved.Release.Namespace = "digit"
	old := step("egov-mdms", ActionUninstall)
	results, _ := runPlan(context.Background(), f, 4, nil,
		moved, step("egov-user", ActionUpgrade, "egov-mdms"), old)
	want := []string{"egov-mdms succeeded", "egov-user succeeded", "egov-mdms succeeded"}
	if got := outcomes(results); !reflect.DeepEqual(got, want) {
		t.Fatalf("outcomes %q, want %q", got, want)
	}
	if results[0].Namespace != "digit" || results[2].Namespace != "egov" {
		t.Errorf("results in namespaces %s and %s, want digit then egov", results[0].Namespace, results[2].Namespace)
	}
	if f.index("end egov-mdms@digit") > f.index("start egov-user") {
		t.Errorf("egov-user started before egov-mdms was installed: %v", f.events)
	}
}
