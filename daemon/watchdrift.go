package daemon

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
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

// objectChanged routes a watch event of cluster c to the loops whose
// last full sync has the release in sync.
func (d *Daemon) objectChanged(c *kube.Cluster, ch drift.Change) {
	for _, l := range d.loops() {
		l.objectChanged(c, ch)
	}
}

// objectChanged queues a check of the release ch names, when this loop
// watches it, and wakes the drift worker.
func (l *envLoop) objectChanged(c *kube.Cluster, ch drift.Change) {
	l.mu.Lock()
	ns, ok := l.target.releases[ch.Release]
	if l.target.env == nil || l.target.conn.cluster != c || !ok || ns != ch.Namespace {
		l.mu.Unlock()
		return
	}
	if l.pending == nil {
		l.pending = map[string]time.Time{}
	}
	if _, queued := l.pending[ch.Release]; !queued {
		l.pending[ch.Release] = time.Now()
	}
	l.mu.Unlock()
	l.wakeDrift()
}

// wakeDriftAt arms the one timer that wakes the drift worker when the
// earliest hold ends (none when at is zero); an earlier time wins over a
// later one already armed. l.mu is held.
func (l *envLoop) wakeDriftAt(now, at time.Time) {
	if at.IsZero() || (!l.holdWake.IsZero() && l.holdWake.After(now) && !at.Before(l.holdWake)) {
		return
	}
	l.holdWake = at
	if l.holdTimer == nil {
		l.holdTimer = time.AfterFunc(at.Sub(now), l.wakeDrift)
		return
	}
	l.holdTimer.Reset(at.Sub(now))
}

func (l *envLoop) wakeDrift() {
	select {
	case l.driftWake <- struct{}{}:
	default:
	}
}

// watchDrift checks the releases watch events queued, until ctx ends.
// Corrections run under applyCtx, like the full sync's actions.
func (l *envLoop) watchDrift(ctx, applyCtx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.driftWake:
		}
		t := time.NewTimer(l.d.opts.DriftDebounce)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if names, first := l.duePending(time.Now()); len(names) > 0 {
			l.checkReleases(ctx, applyCtx, names, first)
		}
	}
}

// duePending takes the queued releases that can be checked now: not being
// acted on by the full sync (it wakes the worker when it is done) and not
// backing off from a fight (a timer wakes the worker then). first is when
// the oldest of their events came.
func (l *envLoop) duePending(now time.Time) (names []string, first time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var wakeAt time.Time
	defer func() { l.wakeDriftAt(now, wakeAt) }()
	for name, at := range l.pending {
		if _, busy := l.acting[name]; busy {
			continue
		}
		if until := l.holdUntil[name]; now.Before(until) {
			if wakeAt.IsZero() || until.Before(wakeAt) {
				wakeAt = until
			}
			continue
		}
		names = append(names, name)
		if first.IsZero() || at.Before(first) {
			first = at
		}
		delete(l.pending, name)
	}
	slices.Sort(names)
	return names, first
}

// checkReleases plans the named releases alone from the last full sync's
// environment and revision and, when this replica leads, corrects the ones
// that drifted. Anything else the plan would do (an upgrade: Git moved)
// is left to the full sync.
func (l *envLoop) checkReleases(ctx, applyCtx context.Context, names []string, first time.Time) {
	l.mu.Lock()
	tgt, epoch := l.target, l.actedEpoch
	l.mu.Unlock()
	if tgt.env == nil || l.d.suspends.environment(l.name) {
		return
	}
	leader := l.d.leading.Load()
	syncer := &reconciler.Syncer{Planner: tgt.conn.planner, Cluster: tgt.conn.cluster, Log: l.d.log}
	var corrections []string
	requeue := false
	synced, err := syncer.Sync(ctx, tgt.env, reconciler.SyncOptions{
		PlanOptions: reconciler.PlanOptions{
			Revision:  tgt.revision,
			Select:    func(r manifest.ReleaseSpec) bool { return slices.Contains(names, r.Name) },
			Suspended: l.d.suspends.releases(l.name),
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
			l.mu.Lock()
			stale := l.actedEpoch != epoch
			l.mu.Unlock()
			if stale || !l.claim(want, actorWatch) {
				requeue = true
				return false, nil
			}
			corrections = want
			return true, nil
		},
		ActContext: applyCtx,
		Drain:      ctx.Done(),
	})
	l.unclaim(corrections, actorWatch)
	if requeue {
		l.requeue(names, first)
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			l.log.Warn("watch-driven drift check failed", "releases", names, "error", err)
		}
		return
	}
	l.recordWatched(synced, first)
	if leader {
		providers := l.lastProviders() // the last load's, not the secrets read again per check
		for i := range synced.Plan.Steps {
			st := &synced.Plan.Steps[i]
			l.notifyDrift(providers, tgt.revision, tgt.commit, st, st.Action == reconciler.ActionCorrectDrift && succeeded(synced.Result, st.Release.Name))
		}
	}
}

// actor is who acts on a release: the full sync or the drift worker.
type actor int

const (
	actorFullSync actor = iota + 1
	actorWatch
)

// claim marks the named releases as acted on by who, all or none: it
// returns false, marking nothing, when another actor holds one of them.
func (l *envLoop) claim(names []string, who actor) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range names {
		if by, ok := l.acting[n]; ok && by != who {
			return false
		}
	}
	if l.acting == nil {
		l.acting = map[string]actor{}
	}
	for _, n := range names {
		l.acting[n] = who
	}
	return true
}

// claimWait claims the named releases for who, waiting while another actor
// holds one of them (the drift worker's corrections are short), until ctx
// ends.
func (l *envLoop) claimWait(ctx context.Context, names []string, who actor) error {
	for {
		l.mu.Lock()
		freed := l.freed
		l.mu.Unlock()
		if l.claim(names, who) {
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
// tells claimWait, and when the full sync let go, moves the epoch on (a
// drift check planned before it is stale) and wakes the drift worker for
// the events that came meanwhile.
func (l *envLoop) unclaim(names []string, who actor) {
	if len(names) == 0 {
		return
	}
	l.mu.Lock()
	for _, n := range names {
		if l.acting[n] == who {
			delete(l.acting, n)
		}
	}
	if who == actorFullSync {
		l.actedEpoch++
	}
	close(l.freed)
	l.freed = make(chan struct{})
	l.mu.Unlock()
	if who == actorFullSync {
		l.wakeDrift()
	}
}

// requeue queues the named releases again, keeping when their first event
// came; the full sync wakes the worker when it lets go of them.
func (l *envLoop) requeue(names []string, first time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == nil {
		l.pending = map[string]time.Time{}
	}
	for _, n := range names {
		if at, queued := l.pending[n]; !queued || first.Before(at) {
			l.pending[n] = first
		}
	}
}

// recordWatched updates the status and metrics of the releases a
// watch-driven check planned, and the fights of those it corrected.
func (l *envLoop) recordWatched(synced reconciler.Synced, first time.Time) {
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
		drifted := len(st.Drift) > 0
		l.d.metrics.Drift(l.name, st.Release.Name, st.Release.Namespace, drifted, corrected)
		if acted {
			l.d.metrics.ReleaseAction(l.name, st.Release.Name, string(st.Action), string(rr.Outcome))
		}
		if corrected {
			l.log.Info("drift corrected from a watch event", "release", st.Release.Name, "namespace", st.Release.Namespace,
				"items", len(st.Drift), "reaction", now.Sub(first).Round(time.Millisecond))
			l.noteFights(st, now)
		}
		l.mu.Lock()
		for j := range l.status.Releases {
			rs := &l.status.Releases[j]
			if rs.Name != st.Release.Name {
				continue
			}
			rs.Action, rs.Reason, rs.Drift = st.Action, st.Reason, st.Drift
			rs.Phase = releasePhase(releaseFacts{Action: st.Action, Drifted: drifted || st.Action == reconciler.ActionCorrectDrift, Outcome: rr.Outcome, Suspended: rs.Suspended})
			if acted {
				rs.Outcome, rs.Error = rr.Outcome, rr.Error
			}
			rs.Notes = l.fightNotesOf(st.Release.Name)
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
func (l *envLoop) noteFights(st *reconciler.Step, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fights == nil {
		l.fights = map[string]*fight{}
		l.holdUntil = map[string]time.Time{}
	}
	worst := 0
	var fought []*fight
	for _, it := range st.Drift {
		key := st.Release.Name + "\x00" + it.Object + "\x00" + it.Path
		f := l.fights[key]
		if f == nil || f.over(now) {
			f = &fight{}
			l.fights[key] = f
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
		l.holdUntil[st.Release.Name] = now.Add(hold)
	} else {
		delete(l.holdUntil, st.Release.Name)
	}
	for _, f := range fought {
		f.hold = hold
	}
}

// fightNotesOf returns the status notes of the release's fights in
// progress. l.mu is held.
func (l *envLoop) fightNotesOf(release string) []string {
	var notes []string
	for _, key := range slices.Sorted(maps.Keys(l.fights)) {
		f := l.fights[key]
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
func (l *envLoop) watchActed(plan *reconciler.Plan, result *reconciler.Result) {
	if result == nil {
		return
	}
	ns := map[string]string{}
	for _, st := range plan.Steps {
		ns[st.Release.Name] = st.Release.Namespace
	}
	l.mu.Lock()
	if l.pending == nil {
		l.pending = map[string]time.Time{}
	}
	now := time.Now()
	for _, rr := range result.Releases {
		if rr.Outcome != reconciler.OutcomeSucceeded || rr.Action == reconciler.ActionUninstall || l.target.releases == nil {
			continue
		}
		l.target.releases[rr.Name] = ns[rr.Name]
		if _, queued := l.pending[rr.Name]; !queued {
			l.pending[rr.Name] = now
		}
	}
	l.mu.Unlock()
	l.wakeDrift()
}

// setTarget records what the full sync just planned for watch-driven
// checks: the releases it found in sync (drifted or not) and their
// environment. l.mu is held.
func (l *envLoop) setTarget(env *manifest.Environment, rules *policy.Rules, conn connected, revision, commit string, plan *reconciler.Plan) {
	releases := map[string]string{}
	for _, st := range plan.Steps {
		if st.Status == reconciler.StatusInSync || st.Status == reconciler.StatusDrifted {
			releases[st.Release.Name] = st.Release.Namespace
		}
	}
	l.target = watchTarget{env: env, rules: rules, conn: conn, revision: revision, commit: commit, releases: releases}
}
