package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/notify"
	"github.com/digitops/digitops/rollout"
	"github.com/digitops/digitops/source/git"
	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/loader"
)

// Rollouts (digitops.yaml's rollouts:): the environments of a rollout's
// first wave follow the head of the repository; those of later waves run the
// commit the rollout promoted to them. The leader's rollout loop (one per
// source) reads each environment's health from its loop, decides with
// package rollout, stores the state in a ConfigMap of the home cluster
// (RolloutConfigMap in StateNamespace: a restart or a new leader resumes
// where the rollout was) and wakes the environments it promoted. Standby
// replicas read the stored state, so their plans use the same revisions.

// RolloutConfigMap names the ConfigMap holding the rollouts' state (one key
// per rollout, its JSON).
const RolloutConfigMap = "digitops-rollouts"

// DefaultRolloutTick is how often a rollout is looked at.
const DefaultRolloutTick = 5 * time.Second

// rolloutSpec is a rollout as the head of its source declares it.
type rolloutSpec struct {
	source *source
	config manifest.RolloutConfig
	waves  []rollout.Wave
}

// rollouts is the daemon's view of every rollout.
type rollouts struct {
	// stepping serializes decisions: a tick and an operator's action never
	// decide from the same state.
	stepping sync.Mutex

	mu sync.Mutex
	// specs by rollout name, from the last configuration read of each
	// source; commit is the source commit they were read at.
	specs  map[string]rolloutSpec
	commit map[*source]string
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

// stateNamespace is where the rollouts' ConfigMap lives.
func (d *Daemon) stateNamespace() string {
	switch {
	case d.opts.StateNamespace != "":
		return d.opts.StateNamespace
	case d.opts.LeaderElection != nil:
		return d.opts.LeaderElection.Namespace
	case os.Getenv("POD_NAMESPACE") != "":
		return os.Getenv("POD_NAMESPACE")
	}
	return metav1.NamespaceDefault
}

// readRolloutSpecs reads the rollouts the source declares at snap (once per
// commit) and records them.
func (d *Daemon) readRolloutSpecs(s *source, snap git.Snapshot) ([]rolloutSpec, error) {
	r := &d.rollouts
	r.mu.Lock()
	if r.commit[s] == snap.Commit {
		specs := r.specsOf(s)
		r.mu.Unlock()
		return specs, nil
	}
	r.mu.Unlock()
	cfg, _, err := loader.Config(loader.Options{RepoDir: snap.Dir, ConfigPath: s.opts.ConfigPath})
	if err != nil {
		return nil, err
	}
	var specs []rolloutSpec
	for _, rc := range cfg.Rollouts {
		waves, err := rollout.Waves(rc, cfg.EnvironmentNames())
		if err != nil {
			return nil, err // checked at load: not reached
		}
		specs = append(specs, rolloutSpec{source: s, config: rc, waves: waves})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.specs == nil {
		r.specs, r.commit = map[string]rolloutSpec{}, map[*source]string{}
	}
	for name, sp := range r.specs {
		if sp.source == s {
			delete(r.specs, name)
		}
	}
	for _, sp := range specs {
		if other, taken := r.specs[sp.config.Name]; taken && other.source != s {
			d.log.Error("rollout declared by two sources; the second is ignored", "rollout", sp.config.Name, "source", s.url)
			continue
		}
		r.specs[sp.config.Name] = sp
	}
	r.commit[s] = snap.Commit
	return r.specsOf(s), nil
}

// specsOf returns the source's rollouts. r.mu is held.
func (r *rollouts) specsOf(s *source) []rolloutSpec {
	var out []rolloutSpec
	for _, sp := range r.specs {
		if sp.source == s {
			out = append(out, sp)
		}
	}
	slices.SortFunc(out, func(a, b rolloutSpec) int { return strings.Compare(a.config.Name, b.config.Name) })
	return out
}

// pinnedSnapshot returns the snapshot an environment syncs: head, unless a
// rollout of head's configuration keeps the environment on an earlier
// commit. It reads the rollouts' state first when it was never read: an
// environment of a later wave never runs head by mistake.
func (d *Daemon) pinnedSnapshot(ctx context.Context, s *source, env string, head git.Snapshot) (git.Snapshot, error) {
	if head.Dir == "" {
		return head, nil
	}
	specs, err := d.readRolloutSpecs(s, head)
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
		if err := d.loadRolloutStates(ctx, false); err != nil {
			return git.Snapshot{}, fmt.Errorf("environment %q is in rollout %q, whose state cannot be read: %w", env, sp.config.Name, err)
		}
		d.rollouts.mu.Lock()
		st, started := d.rollouts.states[sp.config.Name]
		d.rollouts.mu.Unlock()
		if !started {
			return head, nil // the rollout starts with everyone at head
		}
		commit, ok := st.CommitFor(sp.waves, env)
		if !ok || commit == head.Commit {
			return head, nil
		}
		snap, err := s.at(ctx, commit)
		if err != nil {
			return git.Snapshot{}, fmt.Errorf("rollout %q keeps environment %q on %s: %w", sp.config.Name, env, commit, err)
		}
		return snap, nil
	}
	return head, nil
}

// loadRolloutStates reads the stored states, once unless again is set
// (a standby follows the leader's writes).
func (d *Daemon) loadRolloutStates(ctx context.Context, again bool) error {
	r := &d.rollouts
	r.mu.Lock()
	if r.loaded && !again {
		r.mu.Unlock()
		return nil
	}
	r.mu.Unlock()
	home, err := d.homeClient()
	if err != nil {
		return err
	}
	cm, err := home.CoreV1().ConfigMaps(d.stateNamespace()).Get(ctx, RolloutConfigMap, metav1.GetOptions{})
	states := map[string]rollout.State{}
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		r.mu.Lock()
		r.err = fmt.Sprintf("unable to read ConfigMap %s/%s: %v", d.stateNamespace(), RolloutConfigMap, err)
		r.mu.Unlock()
		return fmt.Errorf("unable to read ConfigMap %s/%s: %w", d.stateNamespace(), RolloutConfigMap, err)
	default:
		for name, data := range cm.Data {
			var st rollout.State
			if err := json.Unmarshal([]byte(data), &st); err != nil {
				d.log.Error("rollout state unreadable; the rollout starts again", "rollout", name, "error", err)
				continue
			}
			states[name] = st
		}
	}
	r.mu.Lock()
	r.states, r.loaded, r.err = states, true, ""
	r.mu.Unlock()
	return nil
}

// saveRolloutState stores one rollout's state (create or update, retried
// on a conflict).
func (d *Daemon) saveRolloutState(ctx context.Context, name string, st rollout.State) error {
	home, err := d.homeClient()
	if err != nil {
		return err
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	cms := home.CoreV1().ConfigMaps(d.stateNamespace())
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := cms.Get(ctx, RolloutConfigMap, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			cm = &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: RolloutConfigMap, Namespace: d.stateNamespace(), Labels: map[string]string{"app.kubernetes.io/managed-by": "digitops"}},
				Data:       map[string]string{name: string(data)},
			}
			_, err = cms.Create(ctx, cm, metav1.CreateOptions{FieldManager: "digitops"})
			return err
		}
		if err != nil {
			return err
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[name] = string(data)
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: "digitops"})
		return err
	})
}

// runRollouts moves the source's rollouts on every tick until ctx ends.
func (d *Daemon) runRollouts(ctx context.Context, s *source) {
	t := time.NewTicker(d.opts.RolloutTick)
	defer t.Stop()
	for {
		d.rolloutTick(ctx, s)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// rolloutTick looks at each rollout of the source once.
func (d *Daemon) rolloutTick(ctx context.Context, s *source) {
	s.mu.Lock()
	head := s.snap
	s.mu.Unlock()
	if head.Dir == "" {
		return
	}
	specs, err := d.readRolloutSpecs(s, head)
	if err != nil || len(specs) == 0 {
		return
	}
	leader := d.leading.Load()
	d.rollouts.mu.Lock()
	newLeader := leader && !d.rollouts.leading
	d.rollouts.leading = leader
	d.rollouts.mu.Unlock()
	if err := d.loadRolloutStates(ctx, !leader || newLeader); err != nil {
		if ctx.Err() == nil {
			d.log.Error("rollouts wait: their state cannot be read", "error", err)
		}
		return
	}
	if !leader {
		return
	}
	for _, sp := range specs {
		d.stepRollout(ctx, sp, head)
	}
}

// stepRollout decides one rollout's next state, evaluating its gate while
// a gated wave soaks, stores it and acts on what happened.
func (d *Daemon) stepRollout(ctx context.Context, sp rolloutSpec, head git.Snapshot) {
	d.rollouts.stepping.Lock()
	defer d.rollouts.stepping.Unlock()
	name := sp.config.Name
	d.rollouts.mu.Lock()
	st := d.rollouts.states[name]
	d.rollouts.mu.Unlock()
	in := rollout.Input{Waves: sp.waves, HeadRevision: head.Revision, Head: head.Commit, Health: d.rolloutHealth(sp), Now: time.Now()}
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
		in.GateFailure, in.GateUnknown = d.checkGate(ctx, sp, gated)
		next, events = rollout.Next(st, in)
		checked = true
	}
	if !checked {
		d.setGateError(name, "")
	}
	d.commitRollout(ctx, sp, st, next, events)
}

// maxGateError bounds the gate error kept for the status.
const maxGateError = 512

// checkGate runs the Prometheus gate of wave (an index) once, counts the
// result and records its error for the status (cleared when the query
// ran). failure is why the gate does not hold; unknown is set when the
// query could not be run.
func (d *Daemon) checkGate(ctx context.Context, sp rolloutSpec, wave int) (failure string, unknown bool) {
	name, g := sp.config.Name, sp.config.Waves[wave].Prometheus
	failure, err := rollout.PrometheusGate{URL: g.URL, Query: g.Query, Max: g.Max}.Check(ctx, nil)
	switch {
	case err != nil:
		d.metrics.RolloutGate(name, "error")
		d.log.Warn("rollout gate query failed; the wave waits", "rollout", name, "wave", wave+1, "error", err)
		msg := err.Error()
		if len(msg) > maxGateError {
			msg = msg[:maxGateError] + "…"
		}
		d.setGateError(name, fmt.Sprintf("wave %d gate cannot be checked; the wave is not promoted until it can: %s", wave+1, msg))
		return "", true
	case failure != "":
		d.metrics.RolloutGate(name, "fail")
	default:
		d.metrics.RolloutGate(name, "pass")
	}
	d.setGateError(name, "")
	return failure, false
}

// setGateError records (or, with "", clears) a rollout's gate error.
func (d *Daemon) setGateError(name, msg string) {
	d.rollouts.mu.Lock()
	defer d.rollouts.mu.Unlock()
	if msg == "" {
		delete(d.rollouts.gateErrs, name)
		return
	}
	if d.rollouts.gateErrs == nil {
		d.rollouts.gateErrs = map[string]string{}
	}
	d.rollouts.gateErrs[name] = msg
}

// commitRollout stores a rollout's new state when it changed, then logs,
// counts and notifies its events and wakes the environments promoted.
func (d *Daemon) commitRollout(ctx context.Context, sp rolloutSpec, before, next rollout.State, events []rollout.Event) {
	name := sp.config.Name
	old, _ := json.Marshal(before)
	now, _ := json.Marshal(next)
	if string(old) != string(now) {
		if err := d.saveRolloutState(ctx, name, next); err != nil {
			if ctx.Err() == nil {
				d.log.Error("unable to store the rollout's state; it does not move", "rollout", name, "error", err)
				d.rollouts.mu.Lock()
				d.rollouts.err = "unable to store the state: " + err.Error()
				d.rollouts.mu.Unlock()
			}
			return
		}
		d.rollouts.mu.Lock()
		d.rollouts.states[name], d.rollouts.err = next, ""
		d.rollouts.mu.Unlock()
	}
	d.metrics.Rollout(name, next.Wave+1, next.Promoted)
	for _, e := range events {
		d.log.Info("rollout "+string(e.Kind), "rollout", name, "wave", e.Wave+1, "environments", e.Environments, "revision", e.Revision, "message", e.Message)
		switch e.Kind {
		case rollout.Halted, rollout.Aborted:
			d.metrics.RolloutHalt(name)
		}
		d.notifyRollout(sp, e)
		for _, env := range e.Environments {
			if l, ok := d.environment(env); ok {
				wake(l.wake)
			}
		}
	}
}

// notifyRollout tells the providers of the environments concerned (those
// of the wave) about a rollout event.
func (d *Daemon) notifyRollout(sp rolloutSpec, e rollout.Event) {
	kind := map[rollout.EventKind]notify.Kind{rollout.Promoted: notify.RolloutPromoted, rollout.Halted: notify.RolloutHalted, rollout.Aborted: notify.RolloutHalted, rollout.Completed: notify.RolloutPromoted}[e.Kind]
	if kind == "" || e.Wave >= len(sp.waves) {
		return
	}
	for _, env := range sp.waves[e.Wave].Environments {
		l, ok := d.environment(env)
		if !ok {
			continue
		}
		l.notify(l.lastProviders(), kind, e.Revision, commitOf(e.Revision), nil, fmt.Sprintf("rollout %s: %s", sp.config.Name, e.Message), nil)
	}
}

// rolloutHealth reads the health of every environment of a rollout from
// its loop's status.
func (d *Daemon) rolloutHealth(sp rolloutSpec) map[string]rollout.Health {
	h := map[string]rollout.Health{}
	for _, w := range sp.waves {
		for _, env := range w.Environments {
			l, ok := d.environment(env)
			if !ok {
				continue
			}
			st := l.snapshot()
			h[env] = rollout.Health{
				Commit: commitOf(st.Revision),
				InSync: st.Phase == statusapi.PhaseInSync,
				Failed: st.Phase == statusapi.PhaseFailing,
				Reason: st.LastError,
			}
		}
	}
	return h
}

// commitOf is the commit of a revision (branch@sha1:<hex>).
func commitOf(revision string) string {
	if i := strings.LastIndex(revision, "sha1:"); i >= 0 {
		return revision[i+5:]
	}
	return ""
}

// actOnRollout applies an operator's action to a rollout and stores it.
func (d *Daemon) actOnRollout(ctx context.Context, name string, a rollout.Action) (statusapi.Rollout, error) {
	d.rollouts.stepping.Lock()
	defer d.rollouts.stepping.Unlock()
	d.rollouts.mu.Lock()
	sp, ok := d.rollouts.specs[name]
	st := d.rollouts.states[name]
	d.rollouts.mu.Unlock()
	if !ok {
		return statusapi.Rollout{}, errUnknownRollout
	}
	if !d.leading.Load() {
		return statusapi.Rollout{}, errors.New("this replica is not the leader: ask the leader")
	}
	next, events, err := rollout.Act(st, sp.waves, a, time.Now())
	if err != nil {
		return statusapi.Rollout{}, err
	}
	d.commitRollout(ctx, sp, st, next, events)
	d.rollouts.mu.Lock()
	stored := d.rollouts.states[name]
	d.rollouts.mu.Unlock()
	if stored.Updated != next.Updated {
		return statusapi.Rollout{}, errors.New("the rollout's state could not be stored (see the daemon's log)")
	}
	return d.rolloutStatus(name, sp, next, time.Now()), nil
}

var errUnknownRollout = errors.New("no such rollout")

// rolloutStatuses returns every rollout's status, sorted by name.
func (d *Daemon) rolloutStatuses() []statusapi.Rollout {
	d.rollouts.mu.Lock()
	specs := make([]rolloutSpec, 0, len(d.rollouts.specs))
	for _, sp := range d.rollouts.specs {
		specs = append(specs, sp)
	}
	states := d.rollouts.states
	errText := d.rollouts.err
	gateErrs := maps.Clone(d.rollouts.gateErrs)
	d.rollouts.mu.Unlock()
	slices.SortFunc(specs, func(a, b rolloutSpec) int { return strings.Compare(a.config.Name, b.config.Name) })
	var out []statusapi.Rollout
	for _, sp := range specs {
		rs := d.rolloutStatus(sp.config.Name, sp, states[sp.config.Name], time.Now())
		rs.Error = errText
		if ge := gateErrs[sp.config.Name]; ge != "" {
			rs.GateError = ge
			rs.Summary += ", waiting for its gate: it cannot be checked"
		}
		out = append(out, rs)
	}
	return out
}

// rolloutStatus is one rollout's status.
func (d *Daemon) rolloutStatus(name string, sp rolloutSpec, st rollout.State, now time.Time) statusapi.Rollout {
	rs := statusapi.Rollout{
		Name: name, Source: sp.source.url, Revision: st.Revision, Wave: st.Wave + 1, Complete: st.Wave >= len(sp.waves),
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
			if l, ok := d.environment(env); ok {
				re.Phase = l.snapshot().Phase
			}
			rw.Environments = append(rw.Environments, re)
		}
		rs.Waves = append(rs.Waves, rw)
	}
	return rs
}
