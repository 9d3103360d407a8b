package rollouts

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/metrics"
	"github.com/digitops/digitops/notify"
	"github.com/digitops/digitops/rollout"
	"github.com/digitops/digitops/source/git"
	"github.com/digitops/digitops/source/manifest"
)

// ConfigMap names the ConfigMap holding the rollouts' state (one key per
// rollout, its JSON).
const ConfigMap = "digitops-rollouts"

// Source is a watched repository as the rollouts see it.
type Source interface {
	// URL is the repository's address, sanitized (for the status).
	URL() string
	// ConfigPath is digitops.yaml's path in the repository; empty: the root's.
	ConfigPath() string
	// Head is the last snapshot fetched; its Dir is empty before the first.
	Head() git.Snapshot
	// At is a snapshot of an earlier commit, from the source's cache.
	At(ctx context.Context, commit string) (git.Snapshot, error)
}

// Environment is what a rollout reads of an environment's loop.
type Environment struct {
	// Health is what rollout.Next decides from: the commit of its last
	// sync (typed, never parsed from a revision), in sync, failed and why.
	Health rollout.Health
	// Phase is its phase, for the rollout's status.
	Phase statusapi.Phase
}

// Environments are the daemon's environment loops.
type Environments interface {
	// Environment returns the named environment's state; ok is false when
	// no loop runs it.
	Environment(name string) (env Environment, ok bool)
	// Wake makes the named environment's loop sync now (a promotion).
	Wake(name string)
	// Notify queues a rollout event for the named environment's providers.
	Notify(name string, kind notify.Kind, revision, commit, message string)
}

// Options configure a Manager.
type Options struct {
	// Home returns a client of the home cluster, where the state is stored.
	Home func() (kubernetes.Interface, error)
	// Namespace is the home cluster namespace of the ConfigMap.
	Namespace string
	// Tick is how often each rollout is looked at.
	Tick time.Duration
	// Leading reports whether this replica leads (only the leader decides).
	Leading func() bool
	// Environments are the daemon's environment loops.
	Environments Environments
	Metrics      *metrics.Recorder
	Log          *slog.Logger
}

// spec is a rollout as the head of its source declares it.
type spec struct {
	source Source
	config manifest.RolloutConfig
	waves  []rollout.Wave
}

// Manager moves every source's rollouts and answers for their state.
type Manager struct {
	opts Options

	// stepping serializes decisions: a tick and an operator's action never
	// decide from the same state.
	stepping sync.Mutex

	mu sync.Mutex
	// specs by rollout name, from the last configuration read of each
	// source; commit is the source commit they were read at.
	specs  map[string]spec
	commit map[Source]string
	// states by rollout name, as last read or written; loaded is set once
	// they were read from the ConfigMap.
	states map[string]rollout.State
	loaded bool
	err    string
	// leading is whether this replica led at the last tick: a replica that
	// just became the leader reads the state once more before deciding.
	leading bool
	// gateErrs by rollout name: why the gate of the wave that soaks could
	// not be checked at the last step, absent when it was or none was due.
	gateErrs map[string]string
}

// New returns a Manager; it does no I/O.
func New(opts Options) *Manager {
	return &Manager{opts: opts}
}

// ErrUnknownRollout is Act's error for a rollout no source declares.
var ErrUnknownRollout = errors.New("no such rollout")

// Run moves the source's rollouts on every tick until ctx ends.
func (m *Manager) Run(ctx context.Context, s Source) {
	t := time.NewTicker(m.opts.Tick)
	defer t.Stop()
	for {
		m.tick(ctx, s)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// tick looks at each rollout of the source once.
func (m *Manager) tick(ctx context.Context, s Source) {
	head := s.Head()
	if head.Dir == "" {
		return
	}
	specs, err := m.readSpecs(s, head)
	if err != nil || len(specs) == 0 {
		return
	}
	leader := m.opts.Leading()
	m.mu.Lock()
	newLeader := leader && !m.leading
	m.leading = leader
	m.mu.Unlock()
	m.mu.Lock()
	before := m.states
	m.mu.Unlock()
	if err := m.loadStates(ctx, !leader || newLeader); err != nil {
		if ctx.Err() == nil {
			m.opts.Log.Error("rollouts wait: their state cannot be read", "error", err)
		}
		return
	}
	if !leader {
		// The leader promoted or held back a wave: the environments of
		// this replica sync at once instead of at their interval (with
		// serve --shard their owner may not be the leader).
		m.mu.Lock()
		after := m.states
		m.mu.Unlock()
		for _, sp := range specs {
			if before != nil && !reflect.DeepEqual(before[sp.config.Name], after[sp.config.Name]) {
				for _, w := range sp.waves {
					for _, env := range w.Environments {
						m.opts.Environments.Wake(env)
					}
				}
			}
		}
		return
	}
	for _, sp := range specs {
		m.step(ctx, sp, head)
	}
}

// step decides one rollout's next state, evaluating its gate while a gated
// wave soaks, stores it and acts on what happened.
func (m *Manager) step(ctx context.Context, sp spec, head git.Snapshot) {
	m.stepping.Lock()
	defer m.stepping.Unlock()
	name := sp.config.Name
	m.mu.Lock()
	st := m.states[name]
	m.mu.Unlock()
	in := rollout.Input{Waves: sp.waves, HeadRevision: head.Revision, Head: head.Commit, Health: m.health(sp), Now: time.Now()}
	next, events := rollout.Next(st, in)
	// The gate of the wave that soaks, or that the decision would leave:
	// it is checked on every tick of the soak and again before promoting.
	gated := -1
	switch {
	case next.Halted == "" && !next.Paused && next.SoakSince != nil && next.Wave < len(sp.waves):
		gated = next.Wave
	case next.Commit == st.Commit && next.Wave > st.Wave && st.Wave < len(sp.waves):
		gated = st.Wave
	}
	checked := false
	if gated >= 0 && sp.config.Waves[gated].Prometheus != nil {
		in.GateFailure, in.GateUnknown = m.checkGate(ctx, sp, gated)
		next, events = rollout.Next(st, in)
		checked = true
	}
	if !checked {
		m.setGateError(name, "")
	}
	m.commitState(ctx, sp, st, next, events)
}

// health reads the health of every environment of a rollout from its
// loop.
func (m *Manager) health(sp spec) map[string]rollout.Health {
	h := map[string]rollout.Health{}
	for _, w := range sp.waves {
		for _, env := range w.Environments {
			if e, ok := m.opts.Environments.Environment(env); ok {
				h[env] = e.Health
			}
		}
	}
	return h
}

// Act applies an operator's action to a rollout and stores it. Only the
// leader acts.
func (m *Manager) Act(ctx context.Context, name string, a rollout.Action) (statusapi.Rollout, error) {
	m.stepping.Lock()
	defer m.stepping.Unlock()
	m.mu.Lock()
	sp, ok := m.specs[name]
	st := m.states[name]
	m.mu.Unlock()
	if !ok {
		return statusapi.Rollout{}, ErrUnknownRollout
	}
	if !m.opts.Leading() {
		return statusapi.Rollout{}, errors.New("this replica is not the leader: ask the leader")
	}
	next, events, err := rollout.Act(st, sp.waves, a, time.Now())
	if err != nil {
		return statusapi.Rollout{}, err
	}
	m.commitState(ctx, sp, st, next, events)
	m.mu.Lock()
	stored := m.states[name]
	m.mu.Unlock()
	if stored.Updated != next.Updated {
		return statusapi.Rollout{}, errors.New("the rollout's state could not be stored (see the daemon's log)")
	}
	return m.status(name, sp, next, time.Now()), nil
}
