package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// homeSuspensions keep the suspensions in a ConfigMap of the home cluster
// (--shard): key suspensionsKey holds the JSON of suspendFile.
type homeSuspensions struct {
	client    kubernetes.Interface
	namespace string
	name      string
	// read is when the ConfigMap was last read; reads closer together
	// than suspensionsMaxAge share it.
	read time.Time
}

const (
	suspensionsKey    = "suspended.json"
	suspensionsMaxAge = time.Second
)

// refresh reads the suspensions again when the last read is older than
// suspensionsMaxAge, noting the environments whose suspensions changed.
// On an error the last state read stays (and the error is returned).
func (s *suspensions) refresh(ctx context.Context) error {
	if s.home == nil {
		return nil
	}
	s.mu.Lock()
	fresh := time.Since(s.home.read) < suspensionsMaxAge
	s.mu.Unlock()
	if fresh {
		return nil
	}
	state, _, err := s.home.get(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.adopt(state)
	return nil
}

// adopt makes state the current one, marking what changed. s.mu is held.
func (s *suspensions) adopt(state suspendFile) {
	now := time.Now()
	for _, env := range symmetricDifference(s.state.Environments, state.Environments) {
		s.changed[env] = now
	}
	for env := range state.Releases {
		if !slices.Equal(s.state.Releases[env], state.Releases[env]) {
			s.changed[env] = now
		}
	}
	for env := range s.state.Releases {
		if _, ok := state.Releases[env]; !ok {
			s.changed[env] = now
		}
	}
	s.state = state
	s.home.read = now
}

func symmetricDifference(a, b []string) []string {
	var out []string
	for _, v := range a {
		if !slices.Contains(b, v) {
			out = append(out, v)
		}
	}
	for _, v := range b {
		if !slices.Contains(a, v) {
			out = append(out, v)
		}
	}
	return out
}

// updateHome changes the suspensions in the ConfigMap: read, change,
// write with its resourceVersion, again on a conflict (another replica
// wrote).
func (s *suspensions) updateHome(ctx context.Context, env string, change func(suspendFile) suspendFile) error {
	for range 5 {
		state, cm, err := s.home.get(ctx)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.adopt(state)
		next := change(s.state)
		s.mu.Unlock()
		err = s.home.put(ctx, cm, next)
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			continue
		}
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.state = next
		s.changed[env] = time.Now()
		s.mu.Unlock()
		return nil
	}
	return fmt.Errorf("unable to save the suspensions in ConfigMap %s/%s: it keeps changing", s.home.namespace, s.home.name)
}

// get reads the state and the ConfigMap (nil when there is none).
func (h *homeSuspensions) get(ctx context.Context) (suspendFile, *corev1.ConfigMap, error) {
	state := suspendFile{Releases: map[string][]string{}}
	cm, err := h.client.CoreV1().ConfigMaps(h.namespace).Get(ctx, h.name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return state, nil, nil
	case err != nil:
		return state, nil, fmt.Errorf("unable to read the suspensions in ConfigMap %s/%s: %w", h.namespace, h.name, err)
	}
	if data := cm.Data[suspensionsKey]; data != "" {
		if err := json.Unmarshal([]byte(data), &state); err != nil {
			return state, nil, fmt.Errorf("unable to parse the suspensions in ConfigMap %s/%s: %w", h.namespace, h.name, err)
		}
	}
	if state.Releases == nil {
		state.Releases = map[string][]string{}
	}
	return state, cm, nil
}

// put writes state over cm (creates the ConfigMap when cm is nil).
func (h *homeSuspensions) put(ctx context.Context, cm *corev1.ConfigMap, state suspendFile) error {
	data, err := json.Marshal(state)
	if err != nil {
		return err
	}
	if cm == nil {
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: h.namespace, Name: h.name, Labels: map[string]string{"app.kubernetes.io/managed-by": "digitops"}}}
		cm.Data = map[string]string{suspensionsKey: string(data)}
		_, err = h.client.CoreV1().ConfigMaps(h.namespace).Create(ctx, cm, metav1.CreateOptions{})
		return err
	}
	cm = cm.DeepCopy()
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[suspensionsKey] = string(data)
	_, err = h.client.CoreV1().ConfigMaps(h.namespace).Update(ctx, cm, metav1.UpdateOptions{})
	return err
}
