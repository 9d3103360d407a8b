package reconciler

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/digitops/digitops/source/manifest"
)

// Outcome is how one step ended.
type Outcome string

// Outcomes.
const (
	OutcomeSucceeded Outcome = "succeeded"
	OutcomeFailed    Outcome = "failed"
	OutcomeSkipped   Outcome = "skipped"
	OutcomeUnchanged Outcome = "unchanged"
)

// ReleaseResult records what happened to one release in a sync.
type ReleaseResult struct {
	Name           string        `json:"name"`
	Namespace      string        `json:"namespace"`
	Action         Action        `json:"action"`
	Reason         string        `json:"reason"`
	Outcome        Outcome       `json:"outcome"`
	RevisionBefore int           `json:"revisionBefore"`
	RevisionAfter  int           `json:"revisionAfter"`
	Started        time.Time     `json:"started"`
	Duration       time.Duration `json:"duration"`
	Error          string        `json:"error,omitempty"`
	// Notes are remarks on the release found while acting (a template that
	// renders differently on every run).
	Notes []string `json:"notes,omitempty"`
}

// Result records one sync of an environment.
type Result struct {
	Environment string          `json:"environment"`
	Revision    string          `json:"revision"`
	Started     time.Time       `json:"started"`
	Duration    time.Duration   `json:"duration"`
	Releases    []ReleaseResult `json:"releases"`
	// APIRequests counts the API requests made while applying, by verb
	// (see [Cluster.Requests]).
	APIRequests Requests `json:"apiRequests"`
}

// Failed returns the results that failed.
func (r *Result) Failed() []ReleaseResult {
	var out []ReleaseResult
	for _, rr := range r.Releases {
		if rr.Outcome == OutcomeFailed {
			out = append(out, rr)
		}
	}
	return out
}

// Err summarises the failures, nil when none.
func (r *Result) Err() error {
	failed := r.Failed()
	if len(failed) == 0 {
		return nil
	}
	names := make([]string, len(failed))
	for i, f := range failed {
		names[i] = f.Name
	}
	return fmt.Errorf("%d release(s) failed: %s", len(failed), strings.Join(names, ", "))
}

// Progress receives step events as they happen (for the CLI's live view).
type Progress interface {
	// Started is called when a release begins acting (after its needs).
	Started(step *Step)
	// Finished is called when a release has an outcome.
	Finished(res ReleaseResult)
}

// Applier carries out plans against one cluster.
type Applier struct {
	// Cluster is the target cluster.
	Cluster *Cluster
	// Log receives structured progress.
	Log *slog.Logger
	// Progress, if set, is told about every step.
	Progress Progress
	// Drain, when closed, stops releases that have not started yet (they are
	// skipped as "shutting down") while those already acting finish under
	// their own ctx. The daemon closes it on SIGTERM.
	Drain <-chan struct{}
}

// Apply carries out the plan's steps in dependency order, in parallel up to
// the policy's concurrency. A release whose needs failed is skipped; its
// siblings go on. Apply returns a Result for every step; a cancelled ctx stops
// releases that have not started.
//
// When the policy waits, a release starts only once what it needs is Ready:
// an install or upgrade passes its readiness gate before it counts as
// succeeded, and a need this sync leaves unchanged is checked (one read of
// the release, one per object not yet ready) the first time a release that
// needs it is about to act, so a sync where nothing acts reads nothing.
func (a *Applier) Apply(ctx context.Context, env *manifest.Environment, plan *Plan) *Result {
	start := time.Now()
	before := a.Cluster.Requests()
	log := a.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("environment", env.Name, "revision", plan.Revision)
	base := helmEnv{cluster: a.Cluster, log: log, environment: env.Name, policy: env.Policy, namespaces: newNamespaces(a.Cluster)}
	runners := map[Action]ActionRunner{
		ActionInstall:      Install{base},
		ActionUpgrade:      Upgrade{base},
		ActionUninstall:    Uninstall{base},
		ActionCorrectDrift: CorrectClusterDrift{base},
		ActionUnlock:       Unlock{helmEnv: base, install: Install{base}, upgrade: Upgrade{base}},
	}
	concurrency := env.Policy.Concurrency
	if concurrency < 1 {
		concurrency = 1
	}
	sem := make(chan struct{}, concurrency)
	gates := make(map[string]*readyGate, len(plan.Steps))
	for i := range plan.Steps {
		if plan.Steps[i].Action == ActionNone {
			st := &plan.Steps[i]
			gates[st.Release.Name] = &readyGate{check: func(ctx context.Context) error { return base.liveReady(ctx, st) }}
		}
	}
	done := make(map[string]chan struct{}, len(plan.Steps))
	results := make([]ReleaseResult, len(plan.Steps))
	for _, st := range plan.Steps {
		done[st.Release.Name] = make(chan struct{})
	}
	var wg sync.WaitGroup
	for i := range plan.Steps {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			step := &plan.Steps[i]
			defer close(done[step.Release.Name])
			res := a.runStep(ctx, log, step, runners, sem, done, gates, results, plan)
			results[i] = res
			if a.Progress != nil {
				a.Progress.Finished(res)
			}
		}(i)
	}
	wg.Wait()
	return &Result{Environment: env.Name, Revision: plan.Revision, Started: start, Duration: time.Since(start), Releases: results, APIRequests: a.Cluster.Requests().Since(before)}
}

func (a *Applier) runStep(ctx context.Context, log *slog.Logger, step *Step, runners map[Action]ActionRunner, sem chan struct{}, done map[string]chan struct{}, gates map[string]*readyGate, results []ReleaseResult, plan *Plan) ReleaseResult {
	res := ReleaseResult{Name: step.Release.Name, Namespace: step.Release.Namespace, Action: step.Action, Reason: step.Reason}
	if step.Live != nil {
		res.RevisionBefore = step.Live.Version
		res.RevisionAfter = step.Live.Version
	}
	if step.Action == ActionError {
		// Its own error, whatever became of its needs.
		res.Outcome, res.Error = OutcomeFailed, MaskSecrets(step.Reason, step.Release.SecretValues)
		return res
	}
	// Wait for everything this release needs.
	for _, need := range step.Release.Needs {
		ch, ok := done[need]
		if !ok {
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			res.Outcome, res.Error = OutcomeSkipped, "cancelled: "+ctx.Err().Error()
			return res
		}
		if r := resultOf(plan, results, need); r.Outcome == OutcomeFailed || (r.Outcome == OutcomeSkipped && r.Action != ActionSkip) {
			res.Outcome, res.Error = OutcomeSkipped, fmt.Sprintf("dependency %q did not succeed", need)
			return res
		}
	}
	runner, acts := runners[step.Action]
	if acts {
		// Needs this sync did not act on must be ready too; the ones it
		// acted on passed their readiness gate when they succeeded.
		for _, need := range step.Release.Needs {
			if g, ok := gates[need]; ok {
				if err := g.wait(ctx); err != nil {
					res.Outcome, res.Error = OutcomeSkipped, MaskSecrets(fmt.Sprintf("dependency %q is not ready: %v", need, err), step.Release.SecretValues)
					return res
				}
			}
		}
	}
	if !acts {
		switch step.Action {
		case ActionSkip, ActionBlocked:
			res.Outcome = OutcomeSkipped
		default:
			res.Outcome = OutcomeUnchanged
		}
		return res
	}
	select {
	case sem <- struct{}{}:
		defer func() { <-sem }()
	case <-ctx.Done():
		res.Outcome, res.Error = OutcomeSkipped, "cancelled: "+ctx.Err().Error()
		return res
	case <-a.Drain:
		res.Outcome, res.Error = OutcomeSkipped, "shutting down: not started"
		return res
	}
	if err := ctx.Err(); err != nil {
		res.Outcome, res.Error = OutcomeSkipped, "cancelled: "+err.Error()
		return res
	}
	select {
	case <-a.Drain:
		res.Outcome, res.Error = OutcomeSkipped, "shutting down: not started"
		return res
	default:
	}
	if a.Progress != nil {
		a.Progress.Started(step)
	}
	l := log.With("release", step.Release.Name, "namespace", step.Release.Namespace, "action", string(step.Action))
	l.Info("acting", "reason", step.Reason)
	res.Started = time.Now()
	rev, err := runner.Run(ctx, step)
	res.Duration = time.Since(res.Started)
	if err != nil {
		res.Outcome = OutcomeFailed
		res.Error = MaskSecrets(err.Error(), step.Release.SecretValues)
		l.Error("failed", "error", res.Error, "duration", res.Duration)
		return res
	}
	res.Outcome = OutcomeSucceeded
	res.RevisionAfter = rev
	if note := appliedRenderNote(step); note != "" {
		res.Notes = append(res.Notes, note)
	}
	l.Info("done", "revision", rev, "duration", res.Duration)
	return res
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

// resultOf finds the result of the named release; the caller has waited for
// it, so it is written.
func resultOf(plan *Plan, results []ReleaseResult, name string) ReleaseResult {
	for i := range plan.Steps {
		if plan.Steps[i].Release.Name == name {
			return results[i]
		}
	}
	return ReleaseResult{}
}
