package daemon

import (
	"context"

	"github.com/digitops/digitops/daemon/history"
	"github.com/digitops/digitops/daemon/rollouts"
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/notify"
	"github.com/digitops/digitops/rollout"
)

// rolloutEnvironments are the environment loops as package rollouts sees
// them.
type rolloutEnvironments struct{ d *Daemon }

var _ rollouts.Environments = rolloutEnvironments{}

// Environment returns the environment's health and phase from its loop.
func (e rolloutEnvironments) Environment(name string) (rollouts.Environment, bool) {
	l, ok := e.d.environment(name)
	if !ok {
		return rollouts.Environment{}, false
	}
	st, commit := l.snapshotAndCommit()
	if e.d.shard != nil && !e.d.shard.Owns(name) {
		// Another replica owns it (serve --shard): its health is the
		// owner's report (read at most once a second for all of them).
		ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
		defer cancel()
		remote, errs := e.d.peerStatuses(ctx)
		r, ok := remote[name]
		if !ok {
			e.d.log.Debug("rollout: no health from the environment's owner", "environment", name, "errors", errs)
			return rollouts.Environment{Health: rollout.Health{Reason: "its owner did not report it"}, Phase: statusapi.PhasePending}, true
		}
		st, commit = r, r.Commit
	}
	return rollouts.Environment{
		Health: rollout.Health{
			Commit: commit,
			InSync: st.Phase == statusapi.PhaseInSync,
			Failed: st.Phase == statusapi.PhaseFailing,
			Reason: st.LastError,
		},
		Phase: st.Phase,
	}, true
}

// Wake makes the environment's loop sync now.
func (e rolloutEnvironments) Wake(name string) {
	if l, ok := e.d.environment(name); ok {
		l.wakeBy(history.TriggerRollout)
	}
}

// Notify queues a rollout event for the providers of the environment's
// last load.
func (e rolloutEnvironments) Notify(name string, kind notify.Kind, revision, commit, message string) {
	if l, ok := e.d.environment(name); ok {
		l.notify(l.lastProviders(), kind, revision, commit, nil, message, nil)
	}
}
