package history

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConfigMaps is what a ring needs of a namespace's ConfigMaps (client-go's
// ConfigMapInterface has it).
type ConfigMaps interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.ConfigMap, error)
	Create(ctx context.Context, cm *corev1.ConfigMap, opts metav1.CreateOptions) (*corev1.ConfigMap, error)
	Update(ctx context.Context, cm *corev1.ConfigMap, opts metav1.UpdateOptions) (*corev1.ConfigMap, error)
}

// The ConfigMap's key, labels and annotation.
const (
	// DataKey holds the entries' JSON array, oldest first.
	DataKey = "entries.json"
	// ComponentLabel's value is "sync-history" on every history ConfigMap.
	ComponentLabel = "app.kubernetes.io/component"
	component      = "sync-history"
	// EnvironmentAnnotation names the environment whose history the
	// ConfigMap holds ("sha256:<hex>" of a name over 253 bytes).
	EnvironmentAnnotation = "digitops.io/environment"
	fieldManager          = "digitops"
)

// annotation is the value of EnvironmentAnnotation for environment.
func annotation(environment string) string {
	if len(environment) <= 253 {
		return environment
	}
	sum := sha256.Sum256([]byte(environment))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// configMap is the ConfigMap holding entries (oldest first) of
// environment's history, to create, or to update when resourceVersion is
// set.
func configMap(name, namespace, environment, resourceVersion string, entries []Entry) (*corev1.ConfigMap, error) {
	if entries == nil {
		entries = []Entry{}
	}
	data, err := json.Marshal(entries)
	if err != nil {
		return nil, err
	}
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       namespace,
			ResourceVersion: resourceVersion,
			Labels:          map[string]string{"app.kubernetes.io/managed-by": "digitops", ComponentLabel: component},
			Annotations:     map[string]string{EnvironmentAnnotation: annotation(environment)},
		},
		Data: map[string]string{DataKey: string(data)},
	}, nil
}

// errForeign marks a ConfigMap that is not the environment's history.
var errForeign = errors.New("not the history of environment")

// decode reads the entries of environment's history from cm. A ConfigMap
// that is not that environment's history is an error wrapping errForeign
// (it is never overwritten); unreadable entries are another error (the
// history starts again, replacing them at the next write).
func decode(cm *corev1.ConfigMap, environment string) ([]Entry, error) {
	where := cm.Namespace + "/" + cm.Name
	if got, ok := cm.Annotations[EnvironmentAnnotation]; !ok || got != annotation(environment) {
		return nil, fmt.Errorf("ConfigMap %s is %w %q (annotation %s is %q): it is left alone", where, errForeign, environment, EnvironmentAnnotation, got)
	}
	data, ok := cm.Data[DataKey]
	if !ok {
		return nil, nil
	}
	var entries []Entry
	if err := json.Unmarshal([]byte(data), &entries); err != nil {
		return nil, fmt.Errorf("ConfigMap %s: unable to read %s: %w", where, DataKey, err)
	}
	return entries, nil
}
