package rollouts

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/digitops/digitops/rollout"
	"github.com/digitops/digitops/source/git"
	"github.com/digitops/digitops/source/manifest/loader"
)

// readSpecs reads the rollouts the source declares at snap (once per
// commit) and records them.
func (m *Manager) readSpecs(s Source, snap git.Snapshot) ([]spec, error) {
	m.mu.Lock()
	if m.commit[s] == snap.Commit {
		specs := m.specsOf(s)
		m.mu.Unlock()
		return specs, nil
	}
	m.mu.Unlock()
	cfg, _, err := loader.Config(loader.Options{RepoDir: snap.Dir, ConfigPath: s.ConfigPath()})
	if err != nil {
		return nil, err
	}
	var specs []spec
	for _, rc := range cfg.Rollouts {
		waves, err := rollout.Waves(rc, cfg.EnvironmentNames())
		if err != nil {
			return nil, err // checked at load: not reached
		}
		specs = append(specs, spec{source: s, config: rc, waves: waves})
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.specs == nil {
		m.specs, m.commit = map[string]spec{}, map[Source]string{}
	}
	for name, sp := range m.specs {
		if sp.source == s {
			delete(m.specs, name)
		}
	}
	for _, sp := range specs {
		if other, taken := m.specs[sp.config.Name]; taken && other.source != s {
			m.opts.Log.Error("rollout declared by two sources; the second is ignored", "rollout", sp.config.Name, "source", s.URL())
			continue
		}
		m.specs[sp.config.Name] = sp
	}
	m.commit[s] = snap.Commit
	return m.specsOf(s), nil
}

// specsOf returns the source's rollouts. m.mu is held.
func (m *Manager) specsOf(s Source) []spec {
	var out []spec
	for _, sp := range m.specs {
		if sp.source == s {
			out = append(out, sp)
		}
	}
	slices.SortFunc(out, func(a, b spec) int { return strings.Compare(a.config.Name, b.config.Name) })
	return out
}

// Pinned returns the snapshot an environment syncs: head, unless a
// rollout of head's configuration keeps the environment on an earlier
// commit. It reads the rollouts' state first when it was never read: an
// environment of a later wave never runs head by mistake.
func (m *Manager) Pinned(ctx context.Context, s Source, env string, head git.Snapshot) (git.Snapshot, error) {
	if head.Dir == "" {
		return head, nil
	}
	specs, err := m.readSpecs(s, head)
	if err != nil {
		return head, nil // the environment's own load reports it
	}
	for _, sp := range specs {
		in := false
		for i, w := range sp.waves {
			in = in || (i > 0 && slices.Contains(w.Environments, env))
		}
		if !in {
			continue
		}
		if err := m.loadStates(ctx, false); err != nil {
			return git.Snapshot{}, fmt.Errorf("environment %q is in rollout %q, whose state cannot be read: %w", env, sp.config.Name, err)
		}
		m.mu.Lock()
		st, started := m.states[sp.config.Name]
		m.mu.Unlock()
		if !started {
			return head, nil // the rollout starts with everyone at head
		}
		commit, ok := st.CommitFor(sp.waves, env)
		if !ok || commit == head.Commit {
			return head, nil
		}
		snap, err := s.At(ctx, commit)
		if err != nil {
			return git.Snapshot{}, fmt.Errorf("rollout %q keeps environment %q on %s: %w", sp.config.Name, env, commit, err)
		}
		return snap, nil
	}
	return head, nil
}
