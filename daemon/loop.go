package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/digitops/digitops/daemon/history"
	"github.com/digitops/digitops/daemon/shard"
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/metrics"
	"github.com/digitops/digitops/notify"
	"github.com/digitops/digitops/policy"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/git"
	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/loader"
)

// envLoop syncs one environment, on its interval and when woken.
type envLoop struct {
	d    *Daemon
	src  *source
	name string
	log  *slog.Logger
	wake chan struct{}

	// Owned by the loop goroutine.
	owned       bool      // with --shard: this replica owned it at the last sync
	commit      string    // commit of the last load
	deployed    string    // commit of the last successful sync
	settled     bool      // the last sync left nothing to do
	fingerprint string    // live releases after the last full sync
	lastFull    time.Time // end of the last full sync
	// lastStart is when the last full sync started, before it read the
	// suspensions: a change after it may not be in its plan.
	lastStart time.Time
	cluster   *kube.Cluster // from the last load
	interval  time.Duration
	releases  map[string]string // name → namespace, in the metrics

	mu     sync.Mutex
	status statusapi.Environment
	// statusCommit is the Git commit of status.Revision ("" before the
	// first planned sync and for a directory source): what a rollout
	// reads as the environment's commit.
	statusCommit string
	attempted    string // revision of the sync in progress or last done
	// providers are the notify entries of the last load, for the drift
	// worker, the rollout loop and failures before the next load.
	providers []notify.Provider
	failed    backoffs // desired states that failed, tried again later
	// planFully is set by a retry or a sync request: the next sync plans
	// in full (no cheap unchanged check; a suspended environment plans
	// again without applying).
	planFully atomic.Bool
	// dryPlanned is the commit a suspended environment last planned (or
	// tried to) without applying. Owned by the loop goroutine.
	dryPlanned string
	// last is what the console keeps of the last planned sync
	// (pending.go), nil before one.
	last *lastPlan

	// drift is the watch-driven drift worker (watchdrift.go).
	drift *driftWorker
	// watchedAt is when a watch-driven check last wrote a release's status.
	watchedAt map[string]time.Time
	// wokenBy is why the loop was last woken (wakeBy): the trigger of the
	// sync it wakes.
	wokenBy history.Trigger

	// history is the environment's sync history (synchistory.go).
	history *history.Ring
}

func newEnvLoop(d *Daemon, s *source, name string) *envLoop {
	l := &envLoop{
		d:        d,
		src:      s,
		name:     name,
		log:      d.log.With("environment", name),
		wake:     make(chan struct{}, 1),
		interval: d.opts.Interval,
		releases: map[string]string{},
		failed:   backoffs{},
		status:   statusapi.Environment{Name: name, Source: s.url, Phase: statusapi.PhasePending, Releases: []statusapi.Release{}},
	}
	l.drift = newDriftWorker(l)
	l.history = d.historyRing(name)
	return l
}

// run syncs until ctx is cancelled. Helm actions run under applyCtx, which
// outlives ctx by the shutdown grace period; the history ring writes until
// the last sync has ended.
func (l *envLoop) run(ctx, applyCtx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { l.drift.run(ctx, applyCtx) })
	historyCtx, stopHistory := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHistory() // before wg.Wait: the ring writes what the last sync appended
	wg.Go(func() { l.history.Run(historyCtx) })
	trigger := history.TriggerStart
	for {
		l.sync(ctx, applyCtx, trigger)
		t := time.NewTimer(jittered(l.interval, l.d.opts.Jitter))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-l.wake:
			trigger = l.takeWokenBy()
		case <-t.C:
			trigger = history.TriggerPoll
		}
		t.Stop()
	}
}

// pass is what one sync found so far, step by step.
type pass struct {
	start time.Time
	// snap is the revision synced: head, or the commit a rollout keeps
	// the environment on.
	snap git.Snapshot
	// fetchErr is set when the fetch failed and snap is the last good
	// revision.
	fetchErr  error
	env       *manifest.Environment
	rules     *policy.Rules
	conn      connected
	providers []notify.Provider
	suspended map[string]bool
	// leader is true when this replica acts on the environment; guard,
	// with --shard, is its ownership for this sync.
	leader bool
	guard  *shard.Guard
	// trigger is what woke the sync.
	trigger history.Trigger
	// dry is set when the environment is suspended: the sync plans, to
	// show what resuming would change, and never acts.
	dry bool
}

// errStopping ends a sync quietly: the daemon is stopping.
var errStopping = errors.New("stopping")

// sync is one pass: fetch, cheap check, load, plan and apply, record.
// A step that fails before there is a plan ends the sync as a failure.
func (l *envLoop) sync(ctx, applyCtx context.Context, trigger history.Trigger) {
	if ctx.Err() != nil {
		return
	}
	guard, acting := l.d.acting(l.name)
	if l.d.shard != nil && !acting {
		l.standby()
		return
	}
	defer guard.End()
	l.owned = true
	full := l.planFully.Swap(false)
	if err := l.d.suspends.refresh(ctx); err != nil {
		l.log.Warn("suspensions not read again; using the last read", "error", err)
	}
	p := &pass{start: time.Now(), leader: acting, guard: guard, trigger: trigger}
	if l.d.suspends.environment(l.name) {
		l.syncSuspended(ctx, applyCtx, p, full)
		return
	}
	err := l.fetchSnapshot(ctx, p)
	if err == nil && p.fetchErr == nil && !full && l.unchanged(ctx, p.snap) {
		l.finish(p.start, metrics.SyncUnchanged, nil)
		return
	}
	var synced reconciler.Synced
	if err == nil {
		synced, err = l.loadAndSync(ctx, applyCtx, p)
	}
	switch {
	case errors.Is(err, errStopping):
		return
	case err != nil:
		l.failBeforePlan(p.start, p.snap, err)
		l.remember(p, metrics.SyncFailure, err, nil)
		return
	}
	res, syncErr := l.report(ctx, p, synced)
	l.remember(p, res, syncErr, &synced)
}

// loadAndSync loads the environment at p.snap, then plans and applies it
// (only plans when p.dry).
func (l *envLoop) loadAndSync(ctx, applyCtx context.Context, p *pass) (reconciler.Synced, error) {
	if err := l.load(ctx, p); err != nil {
		return reconciler.Synced{}, err
	}
	return l.planAndApply(ctx, applyCtx, p)
}

// syncSuspended is a pass over a suspended environment, which never acts:
// it fetches and, when the revision moved since the last plan (or a sync
// was asked), plans without applying, so that the console's pending
// changes show what resuming would do; otherwise it stops there. Its
// result is "suspended", it is not history and it notifies no one; an
// error shows in the status only.
func (l *envLoop) syncSuspended(ctx, applyCtx context.Context, p *pass, full bool) {
	p.leader, p.dry = false, true
	err := l.fetchSnapshot(ctx, p)
	switch {
	case errors.Is(err, errStopping):
		return
	case err == nil && !full && (p.snap.Commit == l.commit || p.snap.Commit == l.dryPlanned):
		l.finish(p.start, metrics.SyncSuspended, nil)
		return
	}
	var synced reconciler.Synced
	if err == nil {
		l.dryPlanned = p.snap.Commit
		synced, err = l.loadAndSync(ctx, applyCtx, p)
	}
	switch {
	case errors.Is(err, errStopping):
	case err != nil:
		l.finish(p.start, metrics.SyncSuspended, err)
	default:
		l.report(ctx, p, synced)
	}
}

// fetchSnapshot fetches the source into p.snap and moves it to the commit
// a rollout keeps the environment on. A failed fetch with a last good
// revision is not an error: p.fetchErr says it, and that revision syncs.
func (l *envLoop) fetchSnapshot(ctx context.Context, p *pass) error {
	fetchStart := time.Now()
	snap, _, fetchErr := l.src.fetch(ctx, l.commit)
	l.attempt(snap.Revision)
	l.d.metrics.Fetch(l.name, time.Since(fetchStart), fetchErr)
	p.snap, p.fetchErr = snap, fetchErr
	if fetchErr != nil {
		if ctx.Err() != nil {
			return errStopping // not a failure
		}
		if snap.Dir == "" {
			return fmt.Errorf("unable to fetch the source: %w", fetchErr)
		}
		l.log.Warn("fetch failed; syncing the last good revision", "revision", snap.Revision, "error", fetchErr)
	}
	// A rollout may keep this environment on an earlier commit.
	pinned, err := l.d.rollouts.Pinned(ctx, l.src, l.name, snap)
	if err != nil {
		return err
	}
	if pinned.Commit != snap.Commit {
		p.snap = pinned
		l.attempt(pinned.Revision)
	}
	return nil
}

// load reads the environment at p.snap, its providers, interval and
// policy rules, and connects to its cluster (after the policy allowed it).
func (l *envLoop) load(ctx context.Context, p *pass) error {
	env, err := loader.Environment(ctx, loader.Options{RepoDir: p.snap.Dir, ConfigPath: l.src.opts.ConfigPath, Secrets: l.d.opts.Secrets, OpenSOPS: l.d.opts.OpenSOPS, MaxFileSize: l.d.opts.MaxFileSize, AllowEnv: l.d.opts.HelmfileEnv}, l.name)
	if err != nil {
		l.commit, l.settled = "", false
		return fmt.Errorf("unable to load environment %q at %s: %w", l.name, p.snap.Revision, err)
	}
	p.env = env
	p.providers = l.notifiers(env)
	l.mu.Lock()
	l.providers = p.providers
	l.mu.Unlock()
	if env.Policy.Interval > 0 {
		l.interval = env.Policy.Interval
	}
	rules, err := l.d.opts.Policy.For(l.name)
	if err == nil {
		// Before anything connects.
		err = rules.Cluster(l.d.repositoryCluster(env.Cluster))
	}
	if err != nil {
		return fmt.Errorf("environment %q: %w", l.name, err)
	}
	p.rules = rules
	conn, err := l.d.cluster(ctx, env.Cluster)
	if err != nil {
		return fmt.Errorf("unable to connect to the cluster of %q: %w", l.name, err)
	}
	p.conn = conn
	l.cluster = conn.cluster
	return nil
}

// planAndApply runs the pipeline on the loaded environment: it plans and,
// when this replica leads, applies, claiming the releases it writes from
// the drift worker for as long as it acts.
func (l *envLoop) planAndApply(ctx, applyCtx context.Context, p *pass) (reconciler.Synced, error) {
	p.suspended = l.d.suspends.releases(l.name)
	var acting []string
	syncer := &reconciler.Syncer{Planner: p.conn.planner, Cluster: l.cluster, Log: l.d.log} // the applier adds environment and revision
	drain, stopDrain := fenced(ctx, p.guard)
	defer stopDrain()
	synced, err := syncer.Sync(ctx, p.env, reconciler.SyncOptions{
		PlanOptions: reconciler.PlanOptions{Revision: p.snap.Revision, Suspended: p.suspended, HeldBack: l.heldBack, Policy: p.rules},
		Apply:       p.leader,
		Planned: func(_ context.Context, plan *reconciler.Plan) (bool, error) {
			l.d.ready.Store(true)
			l.drift.setTarget(p.env, p.rules, p.conn, p.snap.Revision, p.snap.Commit, plan)
			for _, st := range plan.Steps {
				if st.Action.Writes() {
					acting = append(acting, st.Release.Name)
				}
			}
			if p.leader {
				// Waits for drift corrections of these releases in flight,
				// and for an operator's rollback.
				if err := l.drift.claimWait(ctx, acting, actorFullSync); err != nil {
					acting = nil
					return false, nil
				}
				// An operator suspended one of them (a rollback) or the
				// environment since the plan read the suspensions: acting
				// would undo it. Their wake plans again at once.
				if l.suspendedSince(p.suspended, acting) {
					l.log.Info("suspended while planned: not acting; planning again")
					l.drift.unclaim(acting, actorFullSync)
					acting = nil
					return false, nil
				}
			}
			if p.leader && len(acting) > 0 {
				l.notify(p.providers, notify.SyncStarted, p.snap.Revision, p.snap.Commit, nil, fmt.Sprintf("applying %d release(s)", len(acting)), nil)
			}
			return true, nil
		},
		// On SIGTERM (ctx done), or when another replica is about to own
		// the environment, releases not yet started are skipped; those
		// acting finish under applyCtx, which outlives ctx by the grace period.
		ActContext: applyCtx,
		Drain:      drain,
		Replica:    l.d.replica(),
		Commit:     l.src.gitCommit(p.snap),
	})
	l.drift.unclaim(acting, actorFullSync)
	if err != nil {
		var lre *reconciler.LiveReadError
		if !errors.As(err, &lre) {
			err = fmt.Errorf("unable to plan %q: %w", l.name, err)
		}
		return reconciler.Synced{}, err
	}
	return synced, nil
}

// suspendedSince reports whether the environment, or one of the named
// releases, is suspended now and was not in suspended (what the plan
// read).
func (l *envLoop) suspendedSince(suspended map[string]bool, names []string) bool {
	if l.d.suspends.environment(l.name) {
		return true
	}
	return slices.ContainsFunc(names, func(n string) bool { return !suspended[n] && l.d.suspends.release(l.name, n) })
}

// report records what a planned sync did: release statuses, backoffs,
// drift watches, notifications, metrics, the environment's status and
// what the console keeps of the plan (pending changes and their diffs). It
// returns the sync's result and error: "suspended" for a dry pass.
func (l *envLoop) report(ctx context.Context, p *pass, synced reconciler.Synced) (metrics.SyncResult, error) {
	plan, result, live := synced.Plan, synced.Result, synced.Live
	l.drift.watchActed(plan, result)
	changes := plan.Summary().Writes()
	l.mu.Lock()
	l.failed.forget(plan)
	l.mu.Unlock()
	outcome := l.record(plan, result, p.suspended, p.leader, p.env.Policy, p.start)
	if p.leader {
		for i := range plan.Steps {
			st := &plan.Steps[i]
			l.notifyDrift(p.providers, p.snap.Revision, p.snap.Commit, st, st.Action == reconciler.ActionCorrectDrift && succeeded(result, st.Release.Name))
		}
	}
	l.commit = p.snap.Commit
	l.fingerprint = fingerprint(live, l.name, l.releases)
	l.lastFull = time.Now()
	l.lastStart = p.start
	l.settled = outcome.settled && p.fetchErr == nil

	res, syncErr := syncResult(outcome, p.fetchErr, p.leader, changes)
	if p.dry {
		res, syncErr = metrics.SyncSuspended, nil
	}
	if res == metrics.SyncSuccess && l.deployed != p.snap.Commit {
		if l.deployed != "" && !p.snap.CommitTime.IsZero() {
			l.d.metrics.CommitToDeploy(l.name, time.Since(p.snap.CommitTime))
		}
		l.deployed = p.snap.Commit
	}
	if p.leader {
		switch res {
		case metrics.SyncSuccess:
			l.notify(p.providers, notify.SyncSucceeded, p.snap.Revision, p.snap.Commit, actedOn(result), fmt.Sprintf("%d release(s) applied, the rest in sync", len(actedOn(result))), nil)
		case metrics.SyncFailure:
			l.notify(p.providers, notify.SyncFailed, p.snap.Revision, p.snap.Commit, failedOf(result), syncErr.Error(), nil)
		}
	}
	l.d.metrics.Revision(l.name, p.snap.Revision)
	l.mu.Lock()
	prev := l.last
	l.mu.Unlock()
	last := newLastPlan(ctx, p.conn.cluster, plan, result, prev)
	l.mu.Lock()
	l.last = last
	l.status.Revision = p.snap.Revision
	l.statusCommit = l.src.gitCommit(p.snap)
	l.status.Warnings = warnings(p.env.Warnings)
	if !p.snap.CommitTime.IsZero() {
		ct := p.snap.CommitTime
		l.status.CommitTime = &ct
		l.status.CommitAuthor, l.status.CommitSubject = p.snap.Author, p.snap.Subject
	}
	l.mu.Unlock()
	l.finishPlanned(p.start, res, syncErr, plan)
	return res, syncErr
}

// syncResult is the result of a planned sync: a failure when a release
// failed or the fetch did (the last good revision was synced), standby
// when a replica that does not lead left changes, else success.
func syncResult(outcome syncOutcome, fetchErr error, leader bool, changes int) (metrics.SyncResult, error) {
	switch {
	case outcome.err != nil:
		return metrics.SyncFailure, outcome.err
	case fetchErr != nil:
		return metrics.SyncFailure, fmt.Errorf("unable to fetch the source (synced the last good revision): %w", fetchErr)
	case !leader && changes > 0:
		return metrics.SyncStandby, nil
	}
	return metrics.SyncSuccess, nil
}

// unchanged is the cheap check: the revision is the one of the last sync,
// which left nothing to do, the drift interval has not elapsed, and the
// live releases (names, revisions, statuses) are as that sync left them.
// It costs one metadata-only list of Helm release Secrets.
func (l *envLoop) unchanged(ctx context.Context, snap git.Snapshot) bool {
	if !l.settled || l.cluster == nil || snap.Commit != l.commit || time.Since(l.lastFull) >= l.d.opts.DriftInterval {
		return false
	}
	if l.d.suspends.changedSince(l.name, l.lastStart) {
		return false
	}
	l.mu.Lock()
	due := l.failed.due(time.Now())
	l.mu.Unlock()
	if due {
		return false // a failed release's next attempt
	}
	live, err := kube.ReadLiveState(ctx, l.cluster)
	if err != nil {
		return false
	}
	return fingerprint(live, l.name, l.releases) == l.fingerprint
}

// retry forgets the failures of release (all releases when empty), so that
// the next sync tries them at once; it reports whether there were any.
func (l *envLoop) retry(release string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.planFully.Store(true)
	n := len(l.failed)
	if release == "" {
		clear(l.failed)
		return n > 0
	}
	_, ok := l.failed[release]
	delete(l.failed, release)
	return ok
}

// hasRelease reports whether the last plan had release name, and whether
// there was a plan at all.
func (l *envLoop) hasRelease(name string) (known, planned bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.status.Releases) == 0 && (l.status.LastSync == nil || l.status.LastSync.Summary == nil) {
		return false, false // never planned
	}
	for _, r := range l.status.Releases {
		if r.Name == name {
			return true, true
		}
	}
	return false, true
}

// attempt records the revision a sync is working on.
func (l *envLoop) attempt(revision string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.attempted = revision
}

// snapshot returns a copy of the status.
func (l *envLoop) snapshot() statusapi.Environment {
	st, _ := l.snapshotAndCommit()
	return st
}

// snapshotAndCommit returns a copy of the status and, read with it, the
// Git commit of its revision.
func (l *envLoop) snapshotAndCommit() (statusapi.Environment, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.status
	st.Releases = append(make([]statusapi.Release, 0, len(l.status.Releases)), l.status.Releases...)
	for i := range st.Releases {
		r := &st.Releases[i]
		r.Suspended = r.Suspended || l.d.suspends.release(l.name, r.Name)
		if r.Suspended {
			r.Phase = statusapi.PhaseSuspended // as releasePhase: suspended wins, before the next sync
		}
		r.RolledBack = l.rolledBack(r.Name)
	}
	st.Suspended = l.d.suspends.environment(l.name)
	st.Phase = environmentPhase(st)
	st.Commit = l.statusCommit
	return st, l.statusCommit
}

// heldBack says why a release's desired state waits for its next attempt
// (see backoffs.heldBack), "" when it does not.
func (l *envLoop) heldBack(name string, desired reconciler.Desired) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed.heldBack(name, desired, time.Now())
}
