package reconciler

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/digitops/digitops/internal/redact"
)

// Runners are what the scheduler acts with: its only way to touch a
// cluster. The Applier's are Helm's actions; tests give fakes.
type Runners interface {
	// Runner returns the runner of an action that changes something, false
	// for the actions that do not act (none, skip, blocked, error).
	Runner(a Action) (ActionRunner, bool)
	// Ready waits for the objects of a release this sync leaves unchanged
	// to be ready, before a release that needs it acts.
	Ready(ctx context.Context, step *Step) error
}

// recordConcurrency bounds the records in flight. A record is one read and
// one write of a release's storage Secret: no Helm action and no object, so
// it does not queue behind the environment's concurrency, which bounds
// Helm's actions (an environment-file edit records every release but the
// edited one: 39 records took ten turns of 4, 0.2 s, at 40 releases).
const recordConcurrency = 16

// scheduler walks a plan as a DAG: a release starts when everything it
// needs has succeeded (and, unchanged, is ready), independent releases run
// in parallel up to concurrency, a failed release stops its dependants and
// not its siblings, and drain stops releases that have not started.
type scheduler struct {
	runners     Runners
	concurrency int
	log         *slog.Logger
	// progress, if set, is told about every step.
	progress Progress
	// drain, when closed, skips releases not yet started ("shutting down").
	drain <-chan struct{}
}

// schedule is the state of one run of a plan, shared by its steps.
type schedule struct {
	plan *Plan
	// sem bounds the steps that act at once (concurrency), recordSem the
	// records, which act beside them (recordConcurrency).
	sem, recordSem chan struct{}
	// done[i] is closed when step i has its result; gates[i] is set when
	// step i changes nothing (its readiness checked once for dependants).
	done    []chan struct{}
	gates   []*readyGate
	results []ReleaseResult
	// needed maps a release name to the step its dependants wait for: the
	// environment's release. A release moved to another namespace has a
	// second step of that name (the old one's uninstall), which nothing
	// waits for.
	needed map[string]int
}

// run carries out every step of plan and returns their results, in plan
// order. It does not write to the plan.
func (s *scheduler) run(ctx context.Context, plan *Plan) []ReleaseResult {
	sc := &schedule{
		plan:      plan,
		sem:       make(chan struct{}, max(s.concurrency, 1)),
		recordSem: make(chan struct{}, recordConcurrency),
		done:      make([]chan struct{}, len(plan.Steps)),
		gates:     make([]*readyGate, len(plan.Steps)),
		results:   make([]ReleaseResult, len(plan.Steps)),
		needed:    make(map[string]int, len(plan.Steps)),
	}
	for i := range plan.Steps {
		st := &plan.Steps[i]
		sc.done[i] = make(chan struct{})
		if st.Action == ActionNone {
			sc.gates[i] = &readyGate{check: func(ctx context.Context) error { return s.runners.Ready(ctx, st) }}
		}
		if j, seen := sc.needed[st.Release.Name]; !seen || plan.Steps[j].Action == ActionUninstall {
			sc.needed[st.Release.Name] = i
		}
	}
	var wg sync.WaitGroup
	for i := range plan.Steps {
		wg.Go(func() {
			step := &plan.Steps[i]
			defer close(sc.done[i])
			res := s.runStep(ctx, sc, step)
			sc.results[i] = res
			if s.progress != nil {
				s.progress.Finished(res)
			}
		})
	}
	wg.Wait()
	return sc.results
}

// runStep waits for the step's needs, then acts on it (under the
// concurrency limit) and returns its result.
func (s *scheduler) runStep(ctx context.Context, sc *schedule, step *Step) ReleaseResult {
	res := ReleaseResult{Name: step.Release.Name, Namespace: step.Release.Namespace, Action: step.Action, Reason: step.Reason}
	if step.Live != nil {
		res.RevisionBefore = step.Live.Version
		res.RevisionAfter = step.Live.Version
	}
	if step.Action == ActionError {
		// Its own error, whatever became of its needs.
		res.Outcome, res.Error = OutcomeFailed, step.Reason // masked by the plan
		return res
	}
	// A step that does not act waits for nothing: an unchanged release
	// beside a failed one it needs is unchanged, not skipped.
	runner, acts := s.runners.Runner(step.Action)
	if !acts {
		switch step.Action {
		case ActionSkip:
			res.Outcome = OutcomeSkipped
		case ActionBlocked:
			res.Outcome, res.Error = OutcomeSkipped, step.Reason // masked by the plan
		default:
			res.Outcome = OutcomeUnchanged
		}
		return res
	}
	// A record changes no object: it waits for nothing either.
	if step.Action != ActionRecord {
		if why, ok := sc.waitNeeds(ctx, step); !ok {
			res.Outcome, res.Error = OutcomeSkipped, why
			return res
		}
	}
	// Needs this sync did not act on must be ready too; the ones it acted
	// on passed their readiness gate when they succeeded.
	for _, need := range step.Release.Needs {
		if step.Action == ActionRecord {
			break
		}
		if i, ok := sc.needed[need]; ok && sc.gates[i] != nil {
			if err := sc.gates[i].wait(ctx); err != nil {
				res.Outcome, res.Error = OutcomeSkipped, redact.Secrets(fmt.Sprintf("dependency %q is not ready: %v", need, err), step.Release.SecretValues)
				return res
			}
		}
	}
	sem := sc.sem
	if step.Action == ActionRecord {
		sem = sc.recordSem
	}
	select {
	case sem <- struct{}{}:
		defer func() { <-sem }()
	case <-ctx.Done():
		res.Outcome, res.Error = OutcomeSkipped, "cancelled: "+ctx.Err().Error()
		return res
	case <-s.drain:
		res.Outcome, res.Error = OutcomeSkipped, "shutting down: not started"
		return res
	}
	if err := ctx.Err(); err != nil {
		res.Outcome, res.Error = OutcomeSkipped, "cancelled: "+err.Error()
		return res
	}
	select {
	case <-s.drain:
		res.Outcome, res.Error = OutcomeSkipped, "shutting down: not started"
		return res
	default:
	}
	if s.progress != nil {
		s.progress.Started(step)
	}
	l := s.log.With("release", step.Release.Name, "namespace", step.Release.Namespace, "action", string(step.Action))
	l.Info("acting", "reason", step.Reason)
	res.Started = time.Now()
	applied, err := runner.Run(ctx, step)
	res.Duration = time.Since(res.Started)
	if err != nil {
		res.Outcome = OutcomeFailed
		res.Error = redact.Secrets(err.Error(), step.Release.SecretValues)
		l.Error("failed", "error", res.Error, "duration", res.Duration)
		return res
	}
	res.Outcome = OutcomeSucceeded
	if applied.Unchanged {
		res.Outcome = OutcomeUnchanged
	}
	res.RevisionAfter = applied.Revision
	if note := appliedRenderNote(step, applied.Manifest); note != "" {
		res.Notes = append(res.Notes, note)
	}
	l.Info("done", "revision", applied.Revision, "duration", res.Duration)
	return res
}

// waitNeeds waits until every release the step needs has a result; it
// returns why the step cannot go on when one did not succeed or ctx ends.
func (sc *schedule) waitNeeds(ctx context.Context, step *Step) (why string, ok bool) {
	// An uninstall that hands objects over waits for the installs that
	// take them: it deletes nothing they have not taken.
	for _, need := range slices.Concat(step.Release.Needs, step.handedTo()) {
		i, known := sc.needed[need]
		if !known {
			continue
		}
		select {
		case <-sc.done[i]:
		case <-ctx.Done():
			return "cancelled: " + ctx.Err().Error(), false
		}
		if r := sc.results[i]; r.Outcome == OutcomeFailed || (r.Outcome == OutcomeSkipped && r.Action != ActionSkip) {
			return fmt.Sprintf("dependency %q did not succeed", need), false
		}
	}
	return "", true
}

// readyGate checks once, for every release that needs it, that an unchanged
// release is ready.
type readyGate struct {
	once  sync.Once
	check func(ctx context.Context) error
	err   error
}

func (g *readyGate) wait(ctx context.Context) error {
	g.once.Do(func() { g.err = g.check(ctx) })
	return g.err
}
