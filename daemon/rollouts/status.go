package rollouts

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/rollout"
)

// Statuses returns every rollout's status, sorted by name.
func (m *Manager) Statuses() []statusapi.Rollout {
	m.mu.Lock()
	specs := make([]spec, 0, len(m.specs))
	for _, sp := range m.specs {
		specs = append(specs, sp)
	}
	states := m.states
	errText := m.err
	gateErrs := maps.Clone(m.gateErrs)
	m.mu.Unlock()
	slices.SortFunc(specs, func(a, b spec) int { return strings.Compare(a.config.Name, b.config.Name) })
	var out []statusapi.Rollout
	for _, sp := range specs {
		rs := m.status(sp.config.Name, sp, states[sp.config.Name], time.Now())
		rs.Error = errText
		if ge := gateErrs[sp.config.Name]; ge != "" {
			rs.GateError = ge
			rs.Summary += ", waiting for its gate: it cannot be checked"
		}
		out = append(out, rs)
	}
	return out
}

// status is one rollout's status.
func (m *Manager) status(name string, sp spec, st rollout.State, now time.Time) statusapi.Rollout {
	rs := statusapi.Rollout{
		Name: name, Source: sp.source.URL(), Revision: st.Revision, Wave: st.Wave + 1, Complete: st.Wave >= len(sp.waves),
		Halted: st.Halted, Paused: st.Paused, Summary: st.Summary(sp.waves, now),
	}
	if left, ok := st.SoakLeft(sp.waves, now); ok {
		rs.SoakLeft = left.String()
	}
	for i, w := range sp.waves {
		rw := statusapi.RolloutWave{}
		if w.Soak > 0 {
			rw.Soak = w.Soak.String()
		}
		if g := sp.config.Waves[i].Prometheus; g != nil {
			rw.Gate = fmt.Sprintf("%s ≤ %g", g.Query, g.Max)
		}
		for _, env := range w.Environments {
			re := statusapi.RolloutEnvironment{Name: env}
			if c, ok := st.CommitFor(sp.waves, env); ok {
				re.Commit = c
			}
			if e, ok := m.opts.Environments.Environment(env); ok {
				re.Phase = e.Phase
			}
			rw.Environments = append(rw.Environments, re)
		}
		rs.Waves = append(rs.Waves, rw)
	}
	return rs
}
