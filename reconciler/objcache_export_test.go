package reconciler

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/digitops/digitops/reconciler/kube"
)

// StaleCacheForTest makes d's object cache answer with a copy of each object
// that stale changed, as a watch lagging behind the cluster would: the one
// fault a real watch cannot be made to show on demand.
func StaleCacheForTest(d *DriftDetector, stale func(*unstructured.Unstructured)) {
	d.objects = staleSource{next: d.objects, stale: stale}
}

type staleSource struct {
	next  objectSource
	stale func(*unstructured.Unstructured)
}

func (s staleSource) get(ctx context.Context, r schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, bool, error) {
	u, found, err := s.next.get(ctx, r, namespace, name)
	if found {
		u = u.DeepCopy()
		s.stale(u)
	}
	return u, found, err
}

func (s staleSource) close() { s.next.close() }

// ReadStoredManifestForTest exposes the manifest-only decode of a storage
// Secret read with a GET.
func ReadStoredManifestForTest(ctx context.Context, secrets corev1client.SecretInterface, name string, version int) (string, error) {
	return kube.ReadStoredManifest(ctx, secrets, name, version)
}

// ListStoredManifestsForTest exposes the manifest-only decode of storage
// Secrets read with a LIST.
func ListStoredManifestsForTest(ctx context.Context, secrets corev1client.SecretInterface, want map[string]int) (map[string]string, error) {
	return kube.ListStoredManifests(ctx, secrets, want)
}
