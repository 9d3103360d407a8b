package rollouts

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/digitops/digitops/notify"
	"github.com/digitops/digitops/rollout"
)

// loadStates reads the stored states, once unless again is set (a standby
// follows the leader's writes).
func (m *Manager) loadStates(ctx context.Context, again bool) error {
	m.mu.Lock()
	if m.loaded && !again {
		m.mu.Unlock()
		return nil
	}
	m.mu.Unlock()
	home, err := m.opts.Home()
	if err != nil {
		return err
	}
	ns := m.opts.Namespace
	cm, err := home.CoreV1().ConfigMaps(ns).Get(ctx, ConfigMap, metav1.GetOptions{})
	states := map[string]rollout.State{}
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		m.mu.Lock()
		m.err = fmt.Sprintf("unable to read ConfigMap %s/%s: %v", ns, ConfigMap, err)
		m.mu.Unlock()
		return fmt.Errorf("unable to read ConfigMap %s/%s: %w", ns, ConfigMap, err)
	default:
		for name, data := range cm.Data {
			var st rollout.State
			if err := json.Unmarshal([]byte(data), &st); err != nil {
				m.opts.Log.Error("rollout state unreadable; the rollout starts again", "rollout", name, "error", err)
				continue
			}
			states[name] = st
		}
	}
	m.mu.Lock()
	m.states, m.loaded, m.err = states, true, ""
	m.mu.Unlock()
	return nil
}

// saveState stores one rollout's state (create or update, retried on a
// conflict).
func (m *Manager) saveState(ctx context.Context, name string, st rollout.State) error {
	home, err := m.opts.Home()
	if err != nil {
		return err
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	cms := home.CoreV1().ConfigMaps(m.opts.Namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := cms.Get(ctx, ConfigMap, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			cm = &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: ConfigMap, Namespace: m.opts.Namespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "digitops"}},
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

// commitState stores a rollout's new state when it changed, then logs,
// counts and notifies its events and wakes the environments promoted.
func (m *Manager) commitState(ctx context.Context, sp spec, before, next rollout.State, events []rollout.Event) {
	name := sp.config.Name
	old, _ := json.Marshal(before)
	now, _ := json.Marshal(next)
	if string(old) != string(now) {
		if err := m.saveState(ctx, name, next); err != nil {
			if ctx.Err() == nil {
				m.opts.Log.Error("unable to store the rollout's state; it does not move", "rollout", name, "error", err)
				m.mu.Lock()
				m.err = "unable to store the state: " + err.Error()
				m.mu.Unlock()
			}
			return
		}
		m.mu.Lock()
		m.states[name], m.err = next, ""
		m.mu.Unlock()
	}
	m.opts.Metrics.Rollout(name, next.Wave+1, next.Promoted)
	for _, e := range events {
		m.opts.Log.Info("rollout "+string(e.Kind), "rollout", name, "wave", e.Wave+1, "environments", e.Environments, "revision", e.Revision, "message", e.Message)
		switch e.Kind {
		case rollout.Halted, rollout.Aborted:
			m.opts.Metrics.RolloutHalt(name)
		}
		m.notify(sp, e)
		for _, env := range e.Environments {
			m.opts.Environments.Wake(env)
		}
	}
}

// notify tells the providers of the environments concerned (those of the
// wave) about a rollout event.
func (m *Manager) notify(sp spec, e rollout.Event) {
	kind := map[rollout.EventKind]notify.Kind{rollout.Promoted: notify.RolloutPromoted, rollout.Halted: notify.RolloutHalted, rollout.Aborted: notify.RolloutHalted, rollout.Completed: notify.RolloutPromoted}[e.Kind]
	if kind == "" || e.Wave >= len(sp.waves) {
		return
	}
	for _, env := range sp.waves[e.Wave].Environments {
		m.opts.Environments.Notify(env, kind, e.Revision, eventCommit(e.Revision), fmt.Sprintf("rollout %s: %s", sp.config.Name, e.Message))
	}
}

// eventCommit is the commit of an event's revision (branch@sha1:<hex>),
// "" for a revision that is not a Git commit's. rollout.Event carries the
// revision only; health never goes through here (Environment.Health).
func eventCommit(revision string) string {
	if i := strings.LastIndex(revision, "sha1:"); i >= 0 {
		return revision[i+5:]
	}
	return ""
}
