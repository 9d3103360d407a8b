package reconciler

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/digitops/digitops/reconciler/kube"
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
	// (see [kube.Cluster.Requests]).
	APIRequests kube.Requests `json:"apiRequests"`
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
	Cluster *kube.Cluster
	// Log receives structured progress.
	Log *slog.Logger
	// Progress, if set, is told about every step.
	Progress Progress
	// Drain, when closed, stops releases that have not started yet (they are
	// skipped as "shutting down") while those already acting finish under
	// their own ctx. The daemon closes it on SIGTERM.
	Drain <-chan struct{}
	// Replica, when set, is written on every Helm revision as the label
	// digitops.io/replica: which replica of serve --shard acted.
	Replica string
	// Commit, when set, is written on every Helm revision as the label
	// digitops.io/commit: the Git commit the plan was made from.
	Commit string
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
	s := &scheduler{
		runners:     newHelmRunners(helmEnv{cluster: a.Cluster, log: log, environment: env.Name, policy: env.Policy, namespaces: newNamespaces(a.Cluster), allowed: plan.policy, replica: a.Replica, commit: a.Commit}),
		concurrency: env.Policy.Concurrency,
		log:         log,
		progress:    a.Progress,
		drain:       a.Drain,
	}
	results := s.run(ctx, plan)
	return &Result{Environment: env.Name, Revision: plan.Revision, Started: start, Duration: time.Since(start), Releases: results, APIRequests: a.Cluster.Requests().Since(before)}
}

// helmRunners are the Applier's runners: Helm's actions on one cluster.
type helmRunners struct {
	base    helmEnv
	runners map[Action]ActionRunner
}

var _ Runners = helmRunners{}

func newHelmRunners(base helmEnv) helmRunners {
	return helmRunners{base: base, runners: map[Action]ActionRunner{
		ActionInstall:       Install{base},
		ActionUpgrade:       Upgrade{base},
		ActionRecord:        Record{base},
		ActionUninstall:     Uninstall{base},
		ActionCorrectDrift:  CorrectClusterDrift{base},
		ActionUnlock:        Unlock{helmEnv: base, install: Install{base}, upgrade: Upgrade{base}},
		ActionDeleteOrphans: DeleteOrphans{base},
	}}
}

// Runner implements Runners.
func (h helmRunners) Runner(a Action) (ActionRunner, bool) {
	r, ok := h.runners[a]
	return r, ok
}

// Ready implements Runners.
func (h helmRunners) Ready(ctx context.Context, step *Step) error { return h.base.liveReady(ctx, step) }
