package daemon

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// Watch-driven drift: the drift detector's watches tell the daemon about
// every change of a live object a release deployed; the loop of the
// environment that owns the release checks that release alone, a moment
// later (DriftDebounce gathers a burst), and in correct mode corrects it at
// once. It runs beside the environment's full sync, never behind it: a
// release the full sync is acting on is left to it. The full drift check at
// DriftInterval stays as the safety net.

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
}

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
	for name, at := range l.pending {
		if l.acting[name] {
			continue
		}
		if until := l.holdUntil[name]; now.Before(until) {
			time.AfterFunc(until.Sub(now), l.wakeDrift)
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
	tgt := l.target
	l.mu.Unlock()
	if tgt.env == nil || l.d.suspends.environment(l.name) {
		return
	}
	leader := l.d.leading.Load()
	syncer := &reconciler.Syncer{Planner: tgt.conn.planner, Cluster: tgt.conn.cluster, Log: l.d.log}
	var corrections []string
	synced, err := syncer.Sync(ctx, tgt.env, reconciler.SyncOptions{
		PlanOptions: reconciler.PlanOptions{
			Revision:  tgt.revision,
			Select:    func(r manifest.ReleaseSpec) bool { return slices.Contains(names, r.Name) },
			Suspended: l.d.suspends.releases(l.name),
		},
		Apply: leader,
		Planned: func(_ context.Context, plan *reconciler.Plan) (bool, error) {
			for _, st := range plan.Steps {
				switch {
				case st.Action == reconciler.ActionCorrectDrift:
					corrections = append(corrections, st.Release.Name)
				case st.Action.Changes():
					return false, nil // Git moved: the full sync's to do
				}
			}
			l.setActing(corrections, true)
			return len(corrections) > 0, nil
		},
		ActContext: applyCtx,
		Drain:      ctx.Done(),
	})
	l.setActing(corrections, false)
	if err != nil {
		if ctx.Err() == nil {
			l.log.Warn("watch-driven drift check failed", "releases", names, "error", err)
		}
		return
	}
	l.recordWatched(synced, first)
	if leader {
		providers := l.notifiers(tgt.env)
		for i := range synced.Plan.Steps {
			st := &synced.Plan.Steps[i]
			l.notifyDrift(providers, tgt.revision, tgt.commit, st, st.Action == reconciler.ActionCorrectDrift && succeeded(synced.Result, st.Release.Name))
		}
	}
}

// setActing marks releases as being acted on (or no longer), so that the
// full sync and the drift worker never act on the same release at once.
func (l *envLoop) setActing(names []string, on bool) {
	if len(names) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.acting == nil {
		l.acting = map[string]bool{}
	}
	for _, n := range names {
		if on {
			l.acting[n] = true
		} else {
			delete(l.acting, n)
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
	for _, it := range st.Drift {
		key := st.Release.Name + "\x00" + it.Object + "\x00" + it.Path
		f := l.fights[key]
		if f == nil || now.Sub(f.last) > fightWindow {
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
	}
	if worst >= fightThreshold {
		delay := l.d.opts.DriftDebounce << min(worst-fightThreshold+1, 20)
		l.holdUntil[st.Release.Name] = now.Add(min(delay, l.d.opts.DriftInterval))
	} else {
		delete(l.holdUntil, st.Release.Name)
	}
}

// fightNotesOf returns the status notes of the release's fights in
// progress. l.mu is held.
func (l *envLoop) fightNotesOf(release string) []string {
	var notes []string
	for _, key := range slices.Sorted(maps.Keys(l.fights)) {
		f := l.fights[key]
		parts := strings.SplitN(key, "\x00", 3)
		if len(parts) != 3 || parts[0] != release || f.corrections < fightThreshold || time.Since(f.last) > fightWindow {
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
func (l *envLoop) setTarget(env *manifest.Environment, conn connected, revision, commit string, plan *reconciler.Plan) {
	releases := map[string]string{}
	for _, st := range plan.Steps {
		if st.Status == reconciler.StatusInSync || st.Status == reconciler.StatusDrifted {
			releases[st.Release.Name] = st.Release.Namespace
		}
	}
	l.target = watchTarget{env: env, conn: conn, revision: revision, commit: commit, releases: releases}
}
