package daemon

import (
	"context"
	"errors"

	"github.com/digitops/digitops/daemon/history"
	"github.com/digitops/digitops/daemon/rollouts"
	"github.com/digitops/digitops/daemon/web"
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/rollout"
)

// webBackend is the daemon as package web's handlers see it.
type webBackend struct{ d *Daemon }

var _ web.Backend = webBackend{}

// Status returns the state of every source, environment and rollout. With
// --shard, the environments other replicas own come from them (local
// leaves them out).
func (d *Daemon) Status(ctx context.Context, local bool) statusapi.Status {
	st := statusapi.Status{Leader: d.leading.Load(), Ready: d.ready.Load(), Replica: d.replica(), Sources: []statusapi.Source{}, Environments: []statusapi.Environment{}}
	for _, s := range d.sources {
		s.mu.Lock()
		st.Sources = append(st.Sources, statusapi.Source{URL: s.url, Ref: s.opts.Ref, Revision: s.snap.Revision, Environments: append([]string{}, s.names...), Error: s.err})
		s.mu.Unlock()
	}
	for _, l := range d.loops() {
		st.Environments = append(st.Environments, l.snapshot())
	}
	if !local {
		// Not for a replica's read of another's environments: a rollout's
		// status reads the phases of its environments, from their owners,
		// who would ask back.
		st.Rollouts = d.rollouts.Statuses()
	}
	if d.shard != nil {
		st.Environments = d.shardedEnvironments(ctx, st.Environments, local)
	}
	return st
}

func (b webBackend) Status(ctx context.Context, local bool) statusapi.Status {
	return b.d.Status(ctx, local)
}

// Route is where env's actions are carried out: here without --shard.
func (b webBackend) Route(env string) (string, bool) {
	d := b.d
	if d.shard == nil {
		return "", true
	}
	if _, ok := d.environment(env); !ok || d.shard.Owns(env) {
		return "", true // unknown: answered here (404)
	}
	owner, ok := d.shard.Owner(env)
	if !ok || owner.Identity == d.shard.Identity() {
		return "", false
	}
	return owner.Address, false
}

// Peers are the other live replicas' URLs with --shard.
func (b webBackend) Peers() []string {
	d := b.d
	if d.shard == nil {
		return nil
	}
	var out []string
	for _, m := range d.shard.Members() {
		if m.Identity != d.shard.Identity() && m.Address != "" {
			out = append(out, m.Address)
		}
	}
	return out
}

// RouteRollouts is where the rollouts' actions are carried out: at the
// holder of the rollouts' Lease with --shard.
func (b webBackend) RouteRollouts() (string, bool) {
	d := b.d
	if d.shard == nil || d.rolloutsLeading.Load() {
		return "", true
	}
	id, _ := d.rolloutsLeader.Load().(string)
	for _, m := range d.shard.Members() {
		if m.Identity == id && id != "" {
			return m.Address, false
		}
	}
	return "", false
}

func (b webBackend) Ready() bool { return b.d.ready.Load() }

func (b webBackend) Rollouts() []statusapi.Rollout { return b.d.rollouts.Statuses() }

// SetSuspended suspends or resumes an environment or a release and wakes
// the environment's loop so the status shows it at once.
func (b webBackend) SetSuspended(ctx context.Context, env, release string, on bool) (statusapi.Environment, error) {
	d := b.d
	// Only releases the environment has, so that the state stays bounded
	// (resume of an unknown one is allowed: it clears it).
	known := release
	if !on {
		known = ""
	}
	l, err := d.loopOf(env, known)
	if err != nil {
		return statusapi.Environment{}, err
	}
	if err := d.suspends.set(ctx, env, release, on); err != nil {
		return statusapi.Environment{}, err
	}
	verb := "resumed"
	if on {
		verb = "suspended"
	}
	d.log.Info(verb, "environment", env, "release", release)
	l.wakeBy(history.TriggerManual)
	return l.snapshot(), nil
}

// loopOf is the loop of environment env, a NotFound error when there is
// none; with release, a release its last plan had (releaseKnown).
func (d *Daemon) loopOf(env, release string) (*envLoop, error) {
	l, ok := d.environment(env)
	if !ok {
		return nil, web.NotFound("no environment " + env)
	}
	if release != "" {
		if err := releaseKnown(l, release); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// releaseKnown returns nil when the last plan of l had release, else a
// Conflict (never planned) or NotFound error.
func releaseKnown(l *envLoop, release string) error {
	known, planned := l.hasRelease(release)
	switch {
	case !planned:
		return web.Conflict("environment " + l.name + " has not been planned yet: its releases are unknown; try again after its first sync")
	case !known:
		return web.NotFound("environment " + l.name + " has no release " + release)
	}
	return nil
}

// Retry makes the next sync of env try its failed releases (or release)
// at once, and wakes it.
func (b webBackend) Retry(_ context.Context, env, release string) (statusapi.Environment, error) {
	d := b.d
	l, err := d.loopOf(env, release)
	if err != nil {
		return statusapi.Environment{}, err
	}
	hadFailed := l.retry(release)
	l.src.stale() // try again with what the remote has now
	d.log.Info("retry asked", "environment", env, "release", release, "hadFailed", hadFailed)
	l.wakeBy(history.TriggerManual)
	return l.snapshot(), nil
}

// ActOnRollout applies an operator's action to a rollout and stores it.
func (b webBackend) ActOnRollout(ctx context.Context, name string, a rollout.Action) (statusapi.Rollout, error) {
	rs, err := b.d.rollouts.Act(ctx, name, a)
	if errors.Is(err, rollouts.ErrUnknownRollout) {
		return statusapi.Rollout{}, web.NotFound("no rollout " + name)
	}
	return rs, err
}

// Pushed triggers a fetch and sync, after the debounce delay, of every
// source the push moved.
func (b webBackend) Pushed(p web.Push) (sources int, environments []string) {
	d := b.d
	environments = []string{}
	for _, s := range d.sources {
		if !p.Moved(s.opts.URL, s.opts.Ref) {
			continue
		}
		sources++
		s.trigger(d.opts.Debounce, d.opts.DebounceMaxWait)
		s.mu.Lock()
		environments = append(environments, s.names...)
		s.mu.Unlock()
	}
	return sources, environments
}
