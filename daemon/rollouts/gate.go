package rollouts

import (
	"context"
	"fmt"

	"github.com/digitops/digitops/rollout"
)

// maxGateError bounds the gate error kept for the status.
const maxGateError = 512

// checkGate runs the Prometheus gate of wave (an index) once, counts the
// result and records its error for the status (cleared when the query
// ran). failure is why the gate does not hold; unknown is set when the
// query could not be run.
func (m *Manager) checkGate(ctx context.Context, sp spec, wave int) (failure string, unknown bool) {
	name, g := sp.config.Name, sp.config.Waves[wave].Prometheus
	failure, err := rollout.PrometheusGate{URL: g.URL, Query: g.Query, Max: g.Max}.Check(ctx, nil)
	switch {
	case err != nil:
		m.opts.Metrics.RolloutGate(name, "error")
		m.opts.Log.Warn("rollout gate query failed; the wave waits", "rollout", name, "wave", wave+1, "error", err)
		msg := err.Error()
		if len(msg) > maxGateError {
			msg = msg[:maxGateError] + "…"
		}
		m.setGateError(name, fmt.Sprintf("wave %d gate cannot be checked; the wave is not promoted until it can: %s", wave+1, msg))
		return "", true
	case failure != "":
		m.opts.Metrics.RolloutGate(name, "fail")
	default:
		m.opts.Metrics.RolloutGate(name, "pass")
	}
	m.setGateError(name, "")
	return failure, false
}

// setGateError records (or, with "", clears) a rollout's gate error.
func (m *Manager) setGateError(name, msg string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if msg == "" {
		delete(m.gateErrs, name)
		return
	}
	if m.gateErrs == nil {
		m.gateErrs = map[string]string{}
	}
	m.gateErrs[name] = msg
}
