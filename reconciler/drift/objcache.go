package drift

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/digitops/digitops/reconciler/kube"
)

// objectSource serves live objects to the drift detector without a request
// per object. The detector trusts a clean answer and confirms every other
// one (drift, absence) with a GET.
type objectSource interface {
	// get returns the object and true, or nil and false when the source
	// holds no such object. An error wrapping errNotCached means the source
	// cannot answer for that resource and namespace: read the API.
	get(ctx context.Context, resource schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, bool, error)
	// close stops whatever the source runs.
	close()
}

// errNotCached says that a resource is not served from the cache.
var errNotCached = errors.New("not served from the object cache")

// objectCacheRetry is how long a resource whose informer failed (no list or
// watch permission, a list error) is read with GETs before the cache tries
// again.
const objectCacheRetry = 10 * time.Minute

// helmStorageSelector keeps Helm's storage Secrets (one per revision, each
// holding a gzipped chart and its values) out of the cache.
const helmStorageSelector = "type!=helm.sh/release.v1"

// objectCache holds the live objects releases deployed, one informer per
// (resource, namespace) they deployed into: the first read of a key starts
// its informer and waits, bounded by the reader's context, for the initial
// list; later reads come from the informer's store, which the watch keeps
// current. Only kinds that can be listed and watched are cached; the others
// (and any key whose informer failed) answer errNotCached.
//
// Stored objects carry what drift reads: status, the status subresource's
// managedFields entries and kubectl's last-applied annotation are dropped,
// and the rest is kept as JSON (cachedObject), decoded again on each read:
// a decoded object's maps take several times its JSON, and DIGIT's 500
// releases deploy ~2,000 objects. The informers run until close.
type objectCache struct {
	dynamic   dynamic.Interface
	discovery discovery.DiscoveryInterface

	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	entries map[cacheKey]*cacheEntry
	// changed, when set, is told about every change of a cached object
	// that a Helm release owns (see Detector.OnChange).
	changed func(Change)
}

var _ objectSource = (*objectCache)(nil)

// Change is a live object of a Helm release that changed or went away.
type Change struct {
	// Release and Namespace name the Helm release that owns the object
	// (its meta.helm.sh annotations).
	Release, Namespace string
	// Object is the object's kube.Ref, without the Kind's group.
	Object string
	// Deleted is set when the object is gone.
	Deleted bool
}

// cacheKey is one informer's scope; namespace is "" for a cluster-scoped
// resource.
type cacheKey struct {
	resource  schema.GroupVersionResource
	namespace string
}

// cacheEntry is one informer and whether it can serve.
type cacheEntry struct {
	informer cache.SharedIndexInformer
	// ready is closed once the informer has synced or failed.
	ready chan struct{}
	// err says why the entry cannot serve; set before ready is closed.
	err error
	// at is when the entry was created.
	at   time.Time
	stop context.CancelFunc
}

// newObjectCache returns an empty cache reading through client (whose
// requests the caller counts) and checking verbs with disc.
func newObjectCache(client dynamic.Interface, disc discovery.DiscoveryInterface) *objectCache {
	ctx, cancel := context.WithCancel(context.Background())
	return &objectCache{dynamic: client, discovery: disc, ctx: ctx, cancel: cancel, entries: map[cacheKey]*cacheEntry{}}
}

// get implements objectSource.
func (c *objectCache) get(ctx context.Context, resource schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, bool, error) {
	e := c.entry(resource, namespace)
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	if e.err != nil {
		return nil, false, fmt.Errorf("%w: %s: %v", errNotCached, resource.Resource, e.err)
	}
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	obj, found, err := e.informer.GetIndexer().GetByKey(key)
	if err != nil || !found {
		return nil, false, err
	}
	co, ok := obj.(*cachedObject)
	if !ok {
		return nil, false, fmt.Errorf("%w: %s holds %T", errNotCached, resource.Resource, obj)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(co.raw); err != nil {
		return nil, false, fmt.Errorf("unable to decode cached %s %q: %w", resource.Resource, key, err)
	}
	return u, true, nil
}

// close implements objectSource: it stops every informer.
func (c *objectCache) close() { c.cancel() }

// entry returns the key's entry, starting its informer when there is none
// (or when a failed one is due for another try).
func (c *objectCache) entry(resource schema.GroupVersionResource, namespace string) *cacheEntry {
	k := cacheKey{resource: resource, namespace: namespace}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[k]; ok && !e.expired() {
		return e
	}
	e := c.start(k)
	c.entries[k] = e
	return e
}

// expired reports whether a failed entry is due for another try.
func (e *cacheEntry) expired() bool {
	select {
	case <-e.ready:
		return e.err != nil && time.Since(e.at) > objectCacheRetry
	default:
		return false
	}
}

// start runs an informer for k, unless the resource cannot be listed and
// watched.
func (c *objectCache) start(k cacheKey) *cacheEntry {
	e := &cacheEntry{ready: make(chan struct{}), at: time.Now()}
	if err := c.watchable(k.resource); err != nil {
		e.err = err
		close(e.ready)
		return e
	}
	var tweak dynamicinformer.TweakListOptionsFunc
	if k.resource == kube.SecretsResource {
		tweak = func(o *metav1.ListOptions) { o.FieldSelector = helmStorageSelector }
	}
	inf := dynamicinformer.NewFilteredDynamicInformer(c.dynamic, k.resource, k.namespace, 0, cache.Indexers{}, tweak).Informer()
	if err := inf.SetTransform(compact); err != nil {
		e.err = err
		close(e.ready)
		return e
	}
	failed := make(chan struct{})
	var once sync.Once
	var failure error
	if err := inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *cache.Reflector, err error) {
		if inf.HasSynced() {
			// The reflector lists and watches again by itself.
			cache.DefaultWatchErrorHandler(ctx, r, err)
			return
		}
		once.Do(func() { failure = err; close(failed) })
	}); err != nil {
		e.err = err
		close(e.ready)
		return e
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(old, cur any) { c.notify(old, cur, false) },
		DeleteFunc: func(obj any) { c.notify(nil, obj, true) },
	}); err != nil {
		e.err = err
		close(e.ready)
		return e
	}
	ctx, stop := context.WithCancel(c.ctx)
	e.informer, e.stop = inf, stop
	go inf.RunWithContext(ctx)
	go func() {
		select {
		case <-inf.HasSyncedChecker().Done():
		case <-failed:
			e.err = failure
			stop()
		case <-ctx.Done():
			e.err = ctx.Err()
		}
		close(e.ready)
	}()
	return e
}

// notify tells c.changed about an object of a Helm release whose content
// (what the cache keeps: not its status, not its resourceVersion) changed,
// or that was deleted.
func (c *objectCache) notify(old, cur any, deleted bool) {
	c.mu.Lock()
	changed := c.changed
	c.mu.Unlock()
	if changed == nil {
		return
	}
	if t, ok := cur.(cache.DeletedFinalStateUnknown); ok {
		cur = t.Obj
	}
	co, ok := cur.(*cachedObject)
	if !ok || co.release == "" {
		return
	}
	if prev, ok := old.(*cachedObject); ok && !deleted && bytes.Equal(prev.raw, co.raw) {
		return // a status or resourceVersion change only
	}
	ns, name, _ := strings.Cut(co.release, "/")
	changed(Change{Release: name, Namespace: ns, Object: co.ref, Deleted: deleted})
}

// watchable returns nil when the resource can be listed and watched, as
// discovery (cached by the cluster's client) says.
func (c *objectCache) watchable(resource schema.GroupVersionResource) error {
	list, err := c.discovery.ServerResourcesForGroupVersion(resource.GroupVersion().String())
	if err != nil {
		return fmt.Errorf("unable to discover %s: %w", resource.GroupVersion(), err)
	}
	for _, r := range list.APIResources {
		if r.Name == resource.Resource {
			if slices.Contains(r.Verbs, "list") && slices.Contains(r.Verbs, "watch") {
				return nil
			}
			return fmt.Errorf("%s cannot be listed and watched", resource.Resource)
		}
	}
	return fmt.Errorf("%s not found in discovery", resource.Resource)
}

// dropUnread is the informers' transform: it removes what drift never
// compares (status, the status subresource's managedFields entries,
// kubectl's last-applied annotation), so that the cache holds less.
func dropUnread(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	delete(u.Object, "status")
	md, _ := u.Object["metadata"].(map[string]any)
	if md == nil {
		return u, nil
	}
	if ann, ok := md["annotations"].(map[string]any); ok {
		delete(ann, "kubectl.kubernetes.io/last-applied-configuration")
	}
	if mfs, ok := md["managedFields"].([]any); ok {
		md["managedFields"] = slices.DeleteFunc(mfs, func(mf any) bool {
			m, _ := mf.(map[string]any)
			return m["subresource"] == "status"
		})
	}
	return u, nil
}

// cachedObject is what the cache keeps of a live object: the metadata the
// informer's store keys and tracks it by, and the object as JSON, without
// what dropUnread drops.
type cachedObject struct {
	metav1.ObjectMeta
	raw []byte
	// release is the namespace/name of the Helm release that owns the
	// object, "" when none does; ref is its kube.Ref.
	release, ref string
}

var _ runtime.Object = (*cachedObject)(nil)

// GetObjectKind implements runtime.Object.
func (*cachedObject) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// DeepCopyObject implements runtime.Object; raw is never written, so it is
// shared.
func (c *cachedObject) DeepCopyObject() runtime.Object {
	return &cachedObject{ObjectMeta: *c.ObjectMeta.DeepCopy(), raw: c.raw, release: c.release, ref: c.ref}
}

// compact is the informers' transform: dropUnread, then the object as JSON.
// Anything else (an object already compact, a tombstone) is returned as is.
func compact(obj any) (any, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return obj, nil
	}
	if _, err := dropUnread(u); err != nil {
		return nil, err
	}
	meta := metav1.ObjectMeta{Name: u.GetName(), Namespace: u.GetNamespace(), ResourceVersion: u.GetResourceVersion()}
	// The informer tracks the resourceVersion in meta; without it in raw,
	// equal raws mean an unchanged object.
	unstructured.RemoveNestedField(u.Object, "metadata", "resourceVersion")
	raw, err := u.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("unable to encode %s %q for the cache: %w", u.GetKind(), u.GetName(), err)
	}
	co := &cachedObject{ObjectMeta: meta, raw: bytes.Clone(raw), ref: kube.Ref(u)} // the encoder's buffer grew by doubling: keep the bytes only
	if ann := u.GetAnnotations(); ann[kube.HelmReleaseNameAnnotation] != "" {
		co.release = ann[kube.HelmReleaseNamespaceAnnotation] + "/" + ann[kube.HelmReleaseNameAnnotation]
	}
	return co, nil
}
