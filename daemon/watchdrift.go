package daemon

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/digitops/digitops/policy"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// Watch-driven drift: the drift detector's watches tell the daemon about
// every change of a live object a release deployed; the loop of the
// environment that owns the release checks that release alone, a moment
// later (DriftDebounce gathers a burst), and in correct mode corrects it at
// once. It runs beside the environment's full sync, never behind it, and
// never on the same release at once: each claims the releases it acts on;
// the worker leaves a release the full sync holds (and re-checks it when
// the full sync lets go, as it does when the full sync acted since the
// worker read the live state), and the full sync waits for a correction in
// flight. The full drift check at DriftInterval stays as the safety net.

const (
	// fightWindow is how soon after a correction a new one of the same
	// field counts as the same fight.
	fightWindow = 30 * time.Second
	// fightThreshold is how many corrections of a field in a row make a
	// fight: reported once, then corrections of the release back off.
	fightThreshold = 3
)

// watchTarget is what the last full sync left for watch-driven checks: the
// environment it loaded, its cluster connection and revision, and the
// releases it found in sync or drifted (by name, their namespace).
type watchTarget struct {
	env      *manifest.Environment
	rules    *policy.Rules
	conn     connected
	revision string
	commit   string
	releases map[string]string
}

// fight is one field that another manager keeps changing back.
type fight struct {
	manager     string
	corrections int
	last        time.Time
	// hold is how long corrections of the release were held back after
	// the last one: the next correction counts as the same fight when it
	// comes within fightWindow after the hold.
	hold time.Duration
}

// over reports whether the fight ended: no correction of the field for
// fightWindow after the hold.
func (f *fight) over(now time.Time) bool { return now.Sub(f.last) > fightWindow+f.hold }

// driftWorker is an environment loop's watch-driven drift: what the last
// full sync left to watch, the releases whose objects changed since
// (debounced), the releases being acted on (by the full sync or the
// worker), and the fights. It runs beside the loop's full sync (run).
type driftWorker struct {
	// loop is the environment's loop: its name, log, daemon, providers
	// and the status the worker's checks write.
	loop *envLoop
	// wake wakes the worker: an event queued, a hold ended, the full sync
	// let go of releases.
	wake chan struct{}

	mu      sync.Mutex
	target  watchTarget
	pending map[string]time.Time
	acting  map[string]actor
	freed   chan struct{} // closed and replaced whenever marks end
	// actedEpoch moves on each time the full sync ends its marks.
	actedEpoch uint64
	fights     map[string]*fight
	holdUntil  map[string]time.Time
	// holdTimer wakes the worker at holdWake, when the earliest fight's
	// hold ends.
	holdTimer *time.Timer
	holdWake  time.Time
}

func newDriftWorker(l *envLoop) *driftWorker {
	return &driftWorker{loop: l, wake: make(chan struct{}, 1), freed: make(chan struct{})}
}

// objectChanged routes a watch event of cluster c to the loops whose
// last full sync has the release in sync.
func (d *Daemon) objectChanged(c *kube.Cluster, ch drift.Change) {
	for _, l := range d.loops() {
		l.drift.objectChanged(c, ch)
	}
}

// objectChanged queues a check of the release ch names, when this worker
// watches it, and wakes the worker.
func (w *driftWorker) objectChanged(c *kube.Cluster, ch drift.Change) {
	w.mu.Lock()
	ns, ok := w.target.releases[ch.Release]
	if w.target.env == nil || w.target.conn.cluster != c || !ok || ns != ch.Namespace {
		w.mu.Unlock()
		return
	}
	if w.pending == nil {
		w.pending = map[string]time.Time{}
	}
	if _, queued := w.pending[ch.Release]; !queued {
		w.pending[ch.Release] = time.Now()
	}
	w.mu.Unlock()
	w.wakeUp()
}

// wakeAt arms the one timer that wakes the worker when the earliest hold
// ends (none when at is zero); an earlier time wins over a later one
// already armed. w.mu is held.
func (w *driftWorker) wakeAt(now, at time.Time) {
	if at.IsZero() || (!w.holdWake.IsZero() && w.holdWake.After(now) && !at.Before(w.holdWake)) {
		return
	}
	w.holdWake = at
	if w.holdTimer == nil {
		w.holdTimer = time.AfterFunc(at.Sub(now), w.wakeUp)
		return
	}
	w.holdTimer.Reset(at.Sub(now))
}

func (w *driftWorker) wakeUp() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run checks the releases watch events queued, until ctx ends.
// Corrections run under applyCtx, like the full sync's actions.
func (w *driftWorker) run(ctx, applyCtx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		}
		t := time.NewTimer(w.loop.d.opts.DriftDebounce)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if names, first := w.duePending(time.Now()); len(names) > 0 {
			w.checkReleases(ctx, applyCtx, names, first)
		}
	}
}

// duePending takes the queued releases that can be checked now: not being
// acted on by the full sync (it wakes the worker when it is done) and not
// backing off from a fight (a timer wakes the worker then). first is when
// the oldest of their events came.
func (w *driftWorker) duePending(now time.Time) (names []string, first time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var wakeAt time.Time
	defer func() { w.wakeAt(now, wakeAt) }()
	for name, at := range w.pending {
		if _, busy := w.acting[name]; busy {
			continue
		}
		if until := w.holdUntil[name]; now.Before(until) {
			if wakeAt.IsZero() || until.Before(wakeAt) {
				wakeAt = until
			}
			continue
		}
		names = append(names, name)
		if first.IsZero() || at.Before(first) {
			first = at
		}
		delete(w.pending, name)
	}
	slices.Sort(names)
	return names, first
}

// checkReleases plans the named releases alone from the last full sync's
// environment and revision and, when this replica leads, corrects the ones
// that drifted. Anything else the plan would do (an upgrade: Git moved)
// is left to the full sync.
func (w *driftWorker) checkReleases(ctx, applyCtx context.Context, names []string, first time.Time) {
	l, d := w.loop, w.loop.d
	start := time.Now()
	w.mu.Lock()
	tgt, epoch := w.target, w.actedEpoch
	w.mu.Unlock()
	if tgt.env == nil || d.suspends.environment(l.name) {
		return
	}
	guard, leader := d.acting(l.name)
	if d.shard != nil && !leader {
		return // another replica owns the environment
	}
	defer guard.End()
	drain, stopDrain := fenced(ctx, guard)
	defer stopDrain()
	syncer := &reconciler.Syncer{Planner: tgt.conn.planner, Cluster: tgt.conn.cluster, Log: d.log}
	var corrections []string
	requeue := false
	synced, err := syncer.Sync(ctx, tgt.env, reconciler.SyncOptions{
		PlanOptions: reconciler.PlanOptions{
			Revision:  tgt.revision,
			Select:    func(r manifest.ReleaseSpec) bool { return slices.Contains(names, r.Name) },
			Suspended: d.suspends.releases(l.name),
			Policy:    tgt.rules,
		},
		Apply: leader,
		Planned: func(_ context.Context, plan *reconciler.Plan) (bool, error) {
			var want []string
			for _, st := range plan.Steps {
				switch {
				case st.Action == reconciler.ActionCorrectDrift:
					want = append(want, st.Release.Name)
				case st.Action.Writes():
					return false, nil // Git moved: the full sync's to do
				}
			}
			if len(want) == 0 || !leader {
				return false, nil
			}
			// The full sync holds one of them, or acted since this check
			// read the live state: check again once it is done.
			w.mu.Lock()
			stale := w.actedEpoch != epoch
			w.mu.Unlock()
			if stale || !w.claim(want, actorWatch) {
				requeue = true
				return false, nil
			}
			corrections = want
			return true, nil
		},
		ActContext: applyCtx,
		Drain:      drain,
		Replica:    d.replica(),
		Commit:     l.gitCommit(tgt.commit),
	})
	w.unclaim(corrections, actorWatch)
	// A check that read the live state before the full sync or an
	// operator's rollback acted writes no status: it would be older than
	// theirs. It is made again.
	w.mu.Lock()
	requeue = requeue || (len(corrections) == 0 && w.actedEpoch != epoch)
	w.mu.Unlock()
	if requeue {
		w.requeue(names, first)
		w.wakeUp()
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			l.log.Warn("watch-driven drift check failed", "releases", names, "error", err)
		}
		return
	}
	w.recordWatched(synced, first)
	l.rememberWatch(start, synced, tgt.revision, tgt.commit, leader)
	if leader {
		providers := l.lastProviders() // the last load's, not the secrets read again per check
		for i := range synced.Plan.Steps {
			st := &synced.Plan.Steps[i]
			l.notifyDrift(providers, tgt.revision, tgt.commit, st, st.Action == reconciler.ActionCorrectDrift && succeeded(synced.Result, st.Release.Name))
		}
	}
}

// actor is who acts on a release: the full sync, the drift worker, or an
// operator's rollback (console.go).
type actor int

const (
	actorFullSync actor = iota + 1
	actorWatch
	actorOperator
)

// claim marks the named releases as acted on by who, all or none: it
// returns false, marking nothing, when another actor holds one of them
// (or another operator's rollback: those exclude each other too).
func (w *driftWorker) claim(names []string, who actor) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, n := range names {
		if by, ok := w.acting[n]; ok && (by != who || who == actorOperator) {
			return false
		}
	}
	if w.acting == nil {
		w.acting = map[string]actor{}
	}
	for _, n := range names {
		w.acting[n] = who
	}
	return true
}

// claimWait claims the named releases for who, waiting while another actor
// holds one of them (the drift worker's corrections are short), until ctx
// ends.
func (w *driftWorker) claimWait(ctx context.Context, names []string, who actor) error {
	for {
		w.mu.Lock()
		freed := w.freed
		w.mu.Unlock()
		if w.claim(names, who) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-freed:
		}
	}
}

// unclaim ends who's marks on the named releases (never another actor's),
// tells claimWait, and when the full sync or an operator let go, moves
// the epoch on (a drift check planned before it is stale) and wakes the
// worker for the events that came meanwhile.
func (w *driftWorker) unclaim(names []string, who actor) {
	if len(names) == 0 {
		return
	}
	w.mu.Lock()
	for _, n := range names {
		if w.acting[n] == who {
			delete(w.acting, n)
		}
	}
	if who != actorWatch {
		w.actedEpoch++
	}
	close(w.freed)
	w.freed = make(chan struct{})
	w.mu.Unlock()
	if who != actorWatch {
		w.wakeUp()
	}
}

// requeue queues the named releases again, keeping when their first event
// came; the full sync wakes the worker when it lets go of them.
func (w *driftWorker) requeue(names []string, first time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending == nil {
		w.pending = map[string]time.Time{}
	}
	for _, n := range names {
		if at, queued := w.pending[n]; !queued || first.Before(at) {
			w.pending[n] = first
		}
	}
}

// recordWatched updates the loop's status and the metrics of the releases
// a watch-driven check planned, and the fights of those it corrected.
func (w *driftWorker) recordWatched(synced reconciler.Synced, first time.Time) {
	l := w.loop
	results := map[string]reconciler.ReleaseResult{}
	if synced.Result != nil {
		for _, rr := range synced.Result.Releases {
			results[rr.Name] = rr
		}
	}
	now := time.Now()
	for i := range synced.Plan.Steps {
		st := &synced.Plan.Steps[i]
		rr, acted := results[st.Release.Name]
		corrected := acted && rr.Outcome == reconciler.OutcomeSucceeded && st.Action == reconciler.ActionCorrectDrift
		// A correction that found the objects already put back saw a
		// cache a moment behind: no drift, not counted again.
		drifted := len(st.Drift) > 0 && !(acted && rr.Outcome == reconciler.OutcomeUnchanged && st.Action == reconciler.ActionCorrectDrift)
		l.d.metrics.Drift(l.name, st.Release.Name, st.Release.Namespace, drifted, corrected)
		if acted {
			l.d.metrics.ReleaseAction(l.name, st.Release.Name, string(st.Action), string(rr.Outcome))
		}
		if corrected {
			l.log.Info("drift corrected from a watch event", "release", st.Release.Name, "namespace", st.Release.Namespace,
				"items", len(st.Drift), "reaction", now.Sub(first).Round(time.Millisecond))
			w.noteFights(st, now)
		}
		notes := w.fightNotesOf(st.Release.Name)
		l.mu.Lock()
		for j := range l.status.Releases {
			rs := &l.status.Releases[j]
			if rs.Name != st.Release.Name {
				continue
			}
			*rs = releaseStatus(*rs, st, rr, acted, notes)
			if l.watchedAt == nil {
				l.watchedAt = map[string]time.Time{}
			}
			l.watchedAt[rs.Name] = now
		}
		l.status.Phase = environmentPhase(l.status)
		l.mu.Unlock()
	}
}

// noteFights counts, for each field a correction put back, whether it is
// the same field corrected again soon after: at fightThreshold in a row it
// is a fight, reported once (log, status note, metric), and the release's
// watch-driven checks back off exponentially, up to the drift interval.
func (w *driftWorker) noteFights(st *reconciler.Step, now time.Time) {
	l := w.loop
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fights == nil {
		w.fights = map[string]*fight{}
		w.holdUntil = map[string]time.Time{}
	}
	worst := 0
	var fought []*fight
	for _, it := range st.Drift {
		key := st.Release.Name + "\x00" + it.Object + "\x00" + it.Path
		f := w.fights[key]
		if f == nil || f.over(now) {
			f = &fight{}
			w.fights[key] = f
		}
		f.corrections++
		f.last = now
		if it.Manager != "" {
			f.manager = it.Manager
		}
		if f.corrections == fightThreshold {
			l.log.Warn("fighting over a field: another manager undoes every drift correction; corrections back off",
				"release", st.Release.Name, "object", it.Object, "field", it.Path, "manager", f.manager, "corrections", f.corrections)
			l.d.metrics.DriftFight(l.name, st.Release.Name)
		}
		worst = max(worst, f.corrections)
		fought = append(fought, f)
	}
	var hold time.Duration
	if worst >= fightThreshold {
		hold = min(l.d.opts.DriftDebounce<<min(worst-fightThreshold+1, 20), l.d.opts.DriftInterval)
		w.holdUntil[st.Release.Name] = now.Add(hold)
	} else {
		delete(w.holdUntil, st.Release.Name)
	}
	for _, f := range fought {
		f.hold = hold
	}
}

// fightNotesOf returns the status notes of the release's fights in
// progress.
func (w *driftWorker) fightNotesOf(release string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var notes []string
	for _, key := range slices.Sorted(maps.Keys(w.fights)) {
		f := w.fights[key]
		parts := strings.SplitN(key, "\x00", 3)
		if len(parts) != 3 || parts[0] != release || f.corrections < fightThreshold || f.over(time.Now()) {
			continue
		}
		manager := f.manager
		if manager == "" {
			manager = "unknown"
		}
		notes = append(notes, fmt.Sprintf("fighting with manager %s on field %s %s: corrected %d times in a row; corrections back off", manager, parts[1], parts[2], f.corrections))
	}
	return notes
}

// watchActed adds the releases a full sync installed, upgraded or
// corrected to the watched ones and queues a check of each, which starts
// the watches of their objects: drift right after an install is seen
// within seconds, not at the next full drift check. Events that came while
// the full sync acted were left for now, too.
func (w *driftWorker) watchActed(plan *reconciler.Plan, result *reconciler.Result) {
	if result == nil {
		return
	}
	ns := map[string]string{}
	for _, st := range plan.Steps {
		ns[st.Release.Name] = st.Release.Namespace
	}
	w.mu.Lock()
	if w.pending == nil {
		w.pending = map[string]time.Time{}
	}
	now := time.Now()
	for _, rr := range result.Releases {
		if rr.Outcome != reconciler.OutcomeSucceeded || rr.Action == reconciler.ActionUninstall || w.target.releases == nil {
			continue
		}
		w.target.releases[rr.Name] = ns[rr.Name]
		if _, queued := w.pending[rr.Name]; !queued {
			w.pending[rr.Name] = now
		}
	}
	w.mu.Unlock()
	w.wakeUp()
}

// setTarget records what the full sync just planned for watch-driven
// checks: the releases it found in sync (drifted or not) and their
// environment.
func (w *driftWorker) setTarget(env *manifest.Environment, rules *policy.Rules, conn connected, revision, commit string, plan *reconciler.Plan) {
	releases := map[string]string{}
	for _, st := range plan.Steps {
		if st.Status == reconciler.StatusInSync || st.Status == reconciler.StatusDrifted {
			releases[st.Release.Name] = st.Release.Namespace
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.target = watchTarget{env: env, rules: rules, conn: conn, revision: revision, commit: commit, releases: releases}
}

// clearTarget stops the watch-driven checks until the next full sync
// (another replica owns the environment now).
func (w *driftWorker) clearTarget() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.target = watchTarget{}
}
