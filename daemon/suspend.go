package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/digitops/digitops/internal/statusapi"
)

// suspensions records what is suspended, in memory and in a JSON file so
// that a restart keeps it. With leader election each replica keeps its own
// file: send suspend and resume to every replica (or to the leader, which
// is the only one that applies). With --shard they are kept in a ConfigMap
// of the home cluster instead (home), read again before each sync, so that
// a suspension holds whichever replica owns the environment.
type suspensions struct {
	path string
	home *homeSuspensions

	mu      sync.Mutex
	state   suspendFile
	changed map[string]time.Time // environment → last change
}

// suspendFile is the file's content.
type suspendFile struct {
	// Environments are suspended as a whole.
	Environments []string `json:"environments"`
	// Releases are suspended releases, by environment.
	Releases map[string][]string `json:"releases"`
	// RolledBack are operators' emergency rollbacks, by environment and
	// release: each holds while its release is suspended (resuming the
	// release forgets it).
	RolledBack map[string]map[string]rollbackMark `json:"rolledBack,omitempty"`
}

// rollbackMark is an operator's emergency rollback of a release: to Helm
// revision To, at At.
type rollbackMark struct {
	To int       `json:"to"`
	At time.Time `json:"at"`
}

func loadSuspensions(path string) (*suspensions, error) {
	s := &suspensions{path: path, state: suspendFile{Releases: map[string][]string{}}, changed: map[string]time.Time{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("unable to read suspensions %q: %w", path, err)
	}
	if err := json.Unmarshal(data, &s.state); err != nil {
		return nil, fmt.Errorf("unable to parse suspensions %q: %w", path, err)
	}
	if s.state.Releases == nil {
		s.state.Releases = map[string][]string{}
	}
	return s, nil
}

// environment reports whether env is suspended.
func (s *suspensions) environment(env string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return contains(s.state.Environments, env)
}

// release reports whether a release of env is suspended.
func (s *suspensions) release(env, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return contains(s.state.Releases[env], name)
}

// releases returns the suspended releases of env.
func (s *suspensions) releases(env string) map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for _, r := range s.state.Releases[env] {
		out[r] = true
	}
	return out
}

// changedSince reports whether env's suspensions changed after t.
func (s *suspensions) changedSince(env string, t time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed[env].After(t)
}

// set suspends (on) or resumes (!on) env, or one release of it when
// release is not empty, and saves the file. All or nothing: when the file
// cannot be written the error is returned and nothing changes in memory
// either, so a suspension never holds only until the next restart.
func (s *suspensions) set(ctx context.Context, env, release string, on bool) error {
	return s.update(ctx, env, func(cur suspendFile) suspendFile { return toggled(cur, env, release, on) })
}

// rollBack suspends a release of env and records, in the same write, that
// an operator rolls it back to revision to at the time at: the mark holds
// until the release is resumed.
func (s *suspensions) rollBack(ctx context.Context, env, release string, to int, at time.Time) error {
	return s.update(ctx, env, func(cur suspendFile) suspendFile {
		next := toggled(cur, env, release, true)
		if next.RolledBack[env] == nil {
			next.RolledBack[env] = map[string]rollbackMark{}
		}
		next.RolledBack[env][release] = rollbackMark{To: to, At: at}
		return next
	})
}

// forgetRollback drops the rollback mark of a release of env (its
// rollback failed), leaving it suspended.
func (s *suspensions) forgetRollback(ctx context.Context, env, release string) error {
	return s.update(ctx, env, func(cur suspendFile) suspendFile {
		next := cloneState(cur)
		unmark(next, env, release)
		return next
	})
}

// rolledBack returns the rollback mark of a release of env, if any.
func (s *suspensions) rolledBack(env, release string) (rollbackMark, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.state.RolledBack[env][release]
	return m, ok
}

// rolledBack is the rollback mark of a release of l's environment for the
// status, nil when none.
func (l *envLoop) rolledBack(release string) *statusapi.RolledBack {
	m, ok := l.d.suspends.rolledBack(l.name, release)
	if !ok {
		return nil
	}
	return &statusapi.RolledBack{To: m.To, At: m.At}
}

// update makes change's state the current one and saves it (in the home
// ConfigMap with --shard), all or nothing; env's suspensions are marked
// changed.
func (s *suspensions) update(ctx context.Context, env string, change func(suspendFile) suspendFile) error {
	if s.home != nil {
		return s.updateHome(ctx, env, change)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next := change(s.state)
	if err := s.save(next); err != nil {
		return err
	}
	s.state = next
	s.changed[env] = time.Now()
	return nil
}

// toggled is state with env (or its release) suspended or resumed; a
// resumed release loses its rollback mark. state is not changed.
func toggled(state suspendFile, env, release string, on bool) suspendFile {
	next := cloneState(state)
	if release == "" {
		next.Environments = toggle(state.Environments, env, on)
		return next
	}
	next.Releases[env] = toggle(state.Releases[env], release, on)
	if len(next.Releases[env]) == 0 {
		delete(next.Releases, env)
	}
	if !on {
		unmark(next, env, release)
	}
	return next
}

// cloneState copies state's maps, so that a change of the copy leaves
// state as it is (the slices are replaced, never changed in place).
func cloneState(state suspendFile) suspendFile {
	next := suspendFile{Environments: state.Environments, Releases: maps.Clone(state.Releases), RolledBack: map[string]map[string]rollbackMark{}}
	if next.Releases == nil {
		next.Releases = map[string][]string{}
	}
	for env, marks := range state.RolledBack {
		next.RolledBack[env] = maps.Clone(marks)
	}
	return next
}

// unmark drops the rollback mark of a release of env from state.
func unmark(state suspendFile, env, release string) {
	delete(state.RolledBack[env], release)
	if len(state.RolledBack[env]) == 0 {
		delete(state.RolledBack, env)
	}
}

// save writes state to the file: to a temporary file first, renamed over
// it, so that the file is either the old or the new state.
func (s *suspensions) save(state suspendFile) error {
	data, err := json.MarshalIndent(state, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		return fmt.Errorf("unable to save suspensions: %w", err)
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("unable to save suspensions: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("unable to save suspensions: %w", err)
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// toggle adds v to (on) or removes it from a sorted set.
func toggle(list []string, v string, on bool) []string {
	out := make([]string, 0, len(list)+1)
	for _, x := range list {
		if x != v {
			out = append(out, x)
		}
	}
	if on {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}
