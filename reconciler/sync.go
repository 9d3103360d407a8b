package reconciler

import (
	"context"
	"log/slog"

	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// Syncer runs the one sync pipeline the CLI and the daemon share, for one
// cluster: observe (read the live Helm releases, then what each release
// needs: drift, renders, takeovers), decide ([Decide], in [Planner.Plan]),
// act ([Applier.Apply], when asked), and report the plan and the results
// as values.
type Syncer struct {
	// Planner makes the plan; keep one per cluster (its drift detector's
	// watches outlive a sync).
	Planner *Planner
	// Cluster is the target; nil plans offline (from Git alone: nothing is
	// read, every release shows as an install) and never acts.
	Cluster *kube.Cluster
	// Log receives the actions' structured progress.
	Log *slog.Logger
}

// SyncOptions adjust one sync.
type SyncOptions struct {
	// PlanOptions select the releases, suspend some and hold some back,
	// before anything is read or rendered for them.
	PlanOptions
	// Apply carries out the plan when it changes something; without it the
	// sync only plans.
	Apply bool
	// Planned, when set, is called with the plan before anything acts (to
	// print it, ask for confirmation, say the daemon is ready); the sync
	// acts only when it returns true. It is called whenever a plan is
	// made, also when Apply is off or nothing changes.
	Planned func(ctx context.Context, plan *Plan) (act bool, err error)
	// StopWatching stops the planner's drift watches once the plan is
	// made (a one-shot CLI run: the objects an apply writes are not cached
	// for nothing).
	StopWatching bool
	// ActContext, when set, is the context the actions run under; it may
	// outlive ctx (the daemon's shutdown grace period: on SIGTERM releases
	// not yet started are skipped, those acting finish).
	ActContext context.Context
	// Drain, when closed, skips releases that have not started yet.
	Drain <-chan struct{}
	// Progress, if set, is told about every step as it acts.
	Progress Progress
	// Replica labels the Helm revisions written (Applier.Replica).
	Replica string
	// Commit labels the Helm revisions written (Applier.Commit).
	Commit string
}

// Synced is what one sync observed and did.
type Synced struct {
	// Plan is the plan it made (never written to after).
	Plan *Plan
	// Result is what applying it did, nil when nothing acted.
	Result *Result
	// Live is the live Helm releases after the sync: read again when it
	// acted, else those the plan was made from.
	Live kube.LiveState
}

// LiveReadError is a sync that could not read the cluster's live Helm
// releases (the cluster is unreachable, or refuses).
type LiveReadError struct{ Err error }

func (e *LiveReadError) Error() string { return e.Err.Error() }

func (e *LiveReadError) Unwrap() error { return e.Err }

// Sync observes env's cluster, decides, and acts when opts ask it to. An
// error means no plan could be made (the live releases could not be read,
// the prune guard refused); what releases did is in the result.
func (s *Syncer) Sync(ctx context.Context, env *manifest.Environment, opts SyncOptions) (Synced, error) {
	live := kube.LiveState{}
	if s.Cluster != nil {
		var err error
		if live, err = kube.ReadLiveState(ctx, s.Cluster); err != nil {
			return Synced{}, &LiveReadError{Err: err}
		}
	}
	plan, err := s.Planner.Plan(ctx, env, live, opts.PlanOptions)
	if opts.StopWatching && s.Planner.Drift != nil {
		s.Planner.Drift.Close()
	}
	if err != nil {
		return Synced{}, err
	}
	if s.Cluster == nil {
		plan.Notes = append(plan.Notes, "offline: planned from Git alone, no cluster was read; every release shows as an install")
	}
	out := Synced{Plan: plan, Live: live}
	act := opts.Apply && s.Cluster != nil
	if opts.Planned != nil {
		ok, err := opts.Planned(ctx, plan)
		if err != nil {
			return out, err
		}
		act = act && ok
	}
	if !act || plan.Summary().Writes() == 0 {
		return out, nil
	}
	actCtx := ctx
	if opts.ActContext != nil {
		actCtx = opts.ActContext
	}
	applier := &Applier{Cluster: s.Cluster, Log: s.Log, Progress: opts.Progress, Drain: opts.Drain, Replica: opts.Replica, Commit: opts.Commit}
	out.Result = applier.Apply(actCtx, env, plan)
	readCtx := ctx
	if readCtx.Err() != nil {
		readCtx = actCtx
	}
	if after, err := kube.ReadLiveState(readCtx, s.Cluster); err == nil {
		out.Live = after
	}
	return out, nil
}
