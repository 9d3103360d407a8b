package drift

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// InjectStaleCache makes d's object cache answer with a copy of each object
// that stale changed, as a watch lagging behind the cluster would: the one
// fault a real watch cannot be made to show on demand. For tests only.
func InjectStaleCache(d *Detector, stale func(*unstructured.Unstructured)) {
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
