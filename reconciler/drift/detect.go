package drift

import (
	"context"
	"errors"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/digitops/digitops/internal/redact"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// Detector compares the objects a release deployed (the manifest Helm
// stored for the release's revision) with the live objects.
//
// It reads, never writes. Manifests: one GET of a revision's storage Secret
// (or, cold, one paginated LIST per namespace: see prefetch), decoding the
// manifest only, kept in memory after that, the newest revision read of each
// release. Live objects: from a watch cache, one informer per kind and
// namespace that releases deployed into, started on first use and kept
// until Close; an object the cache shows drifted or missing is read again
// with a GET and only that answer counts, so a lagging watch never reports
// drift that is not there (a clean cached object is trusted: an edit the
// watch has not delivered yet is found on the next check). Reuse one
// detector per cluster: once warm, a check of an unchanged cluster makes no
// request.
//
// It counts its API requests (kube.Requests), the cache's lists and watches
// included, so that a plan can say what it cost.
type Detector struct {
	cluster  *kube.Cluster
	dynamic  dynamic.Interface
	typed    kubernetes.Interface
	requests *kube.RequestCounter
	// objects serves live objects; nil reads each with a GET.
	objects objectSource

	mu sync.Mutex
	// manifests are the objects of the last revision read of each release,
	// by namespace/name.
	manifests map[string]storedRevision
}

// storedRevision is the objects one release revision deployed, each as
// JSON (decoded per check: the decoded maps of 500 releases' objects would
// take several times as much memory, for as long as the detector lives).
type storedRevision struct {
	version int
	objects [][]byte
}

// NewDetector builds a detector over a cluster, with its own clients
// whose requests it counts and its own watch cache. Close it when done.
func NewDetector(c *kube.Cluster) (*Detector, error) {
	d, err := NewDirectDetector(c)
	if err != nil {
		return nil, err
	}
	d.objects = newObjectCache(d.dynamic, c.Discovery())
	return d, nil
}

// NewDirectDetector builds a detector that reads every live object
// with a GET: for a correction, which must act on the object as it is now.
func NewDirectDetector(c *kube.Cluster) (*Detector, error) {
	d := &Detector{cluster: c, requests: kube.NewRequestCounter(), manifests: map[string]storedRevision{}}
	cfg := rest.CopyConfig(c.Config)
	cfg.Wrap(d.requests.Wrap)
	var err error
	if d.dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("unable to create dynamic client: %w", err)
	}
	if d.typed, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("unable to create Kubernetes client: %w", err)
	}
	return d, nil
}

// OnChange has f told, from the watches, about every change of a live
// object of a Helm release that this detector has read (its content, not
// its status), and every deletion: the cue for a drift check of that
// release alone. f is called from the watches' goroutines and must not
// block. A detector that reads with GETs never calls it.
func (d *Detector) OnChange(f func(Change)) {
	if c, ok := d.objects.(*objectCache); ok {
		c.mu.Lock()
		c.changed = f
		c.mu.Unlock()
	}
}

// Close stops the detector's watches. A closed detector still works, reading
// each object with a GET.
func (d *Detector) Close() {
	if d.objects != nil {
		d.objects.close()
	}
}

// Requests is the number of API requests the detector has made.
func (d *Detector) Requests() int64 { return int64(d.requests.Snapshot().Total()) }

// Detect returns the drift of one release against its deployed revision
// live.Version. It changes nothing.
func (d *Detector) Detect(ctx context.Context, spec manifest.ReleaseSpec, live *kube.LiveRelease, policy manifest.SyncPolicy) ([]Item, error) {
	objs, err := d.inspect(ctx, spec, live, policy)
	if err != nil {
		return nil, err
	}
	var items []Item
	for _, o := range objs {
		for _, f := range o.findings {
			items = append(items, f.Item)
		}
	}
	return items, nil
}

// objectDrift is the drift of one object of a release.
type objectDrift struct {
	desired *unstructured.Unstructured
	// live is the object as read; nil when deleted. When findings is not
	// empty it comes from a GET (never from the cache), so a correction can
	// write it back.
	live     *unstructured.Unstructured
	client   dynamic.ResourceInterface
	findings []finding
}

// inspect reads every object of the release and compares it.
func (d *Detector) inspect(ctx context.Context, spec manifest.ReleaseSpec, live *kube.LiveRelease, policy manifest.SyncPolicy) ([]objectDrift, error) {
	desired, err := d.deployedObjects(ctx, live.Namespace, live.Name, live.Version)
	if err != nil {
		return nil, err
	}
	opts := newCompareOptions(spec, policy)
	out := make([]objectDrift, 0, len(desired))
	for _, raw := range desired {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(raw); err != nil {
			return nil, fmt.Errorf("release %q revision %d: unable to decode manifest object: %w", live.Name, live.Version, err)
		}
		o, err := d.inspectObject(ctx, obj, live.Namespace, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// inspectObject reads one object, from the cache when it shows no drift,
// else with a GET, and compares it with what was deployed (desired, which it
// keeps and may change: a fresh copy).
func (d *Detector) inspectObject(ctx context.Context, desired *unstructured.Unstructured, namespace string, opts compareOptions) (objectDrift, error) {
	gvk := desired.GroupVersionKind()
	mapping, err := d.cluster.Mapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return objectDrift{}, fmt.Errorf("unable to map %s %q: %w", gvk.Kind, desired.GetName(), err)
	}
	var client dynamic.ResourceInterface = d.dynamic.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if desired.GetNamespace() == "" {
			desired.SetNamespace(namespace)
		}
		client = d.dynamic.Resource(mapping.Resource).Namespace(desired.GetNamespace())
	} else {
		desired.SetNamespace("")
	}
	o := objectDrift{desired: desired, client: client}
	if d.objects != nil {
		cached, found, err := d.objects.get(ctx, mapping.Resource, desired.GetNamespace(), desired.GetName())
		switch {
		case err != nil && !errors.Is(err, errNotCached):
			return o, fmt.Errorf("unable to read %s: %w", kube.Ref(desired), err)
		case found && len(compareObject(desired, cached, opts)) == 0:
			o.live = cached
			return o, nil
		}
		// Drifted, missing or not cached: the GET decides.
	}
	lo, err := client.Get(ctx, desired.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if !ignored(opts.ignore, desired, "") {
			o.findings = []finding{{Item: Item{Object: redact.Secrets(kube.Ref(desired), opts.secrets), Kind: Deleted}}}
		}
		return o, nil
	case err != nil:
		return o, fmt.Errorf("unable to get %s: %w", kube.Ref(desired), err)
	}
	o.live = lo
	o.findings = compareObject(desired, lo, opts)
	return o, nil
}

// deployedObjects returns the objects of a release revision's manifest as
// JSON (hooks excluded: Helm keeps them apart), from Helm's storage Secret.
func (d *Detector) deployedObjects(ctx context.Context, namespace, name string, version int) ([][]byte, error) {
	key := namespace + "/" + name
	d.mu.Lock()
	rev, ok := d.manifests[key]
	d.mu.Unlock()
	if ok && rev.version == version {
		return rev.objects, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, err := kube.ReadStoredManifest(ctx, d.typed.CoreV1().Secrets(namespace), name, version)
	if err != nil {
		return nil, err
	}
	objs, err := kube.ObjectsJSON(m)
	if err != nil {
		return nil, fmt.Errorf("release %q revision %d: %w", name, version, err)
	}
	d.mu.Lock()
	d.manifests[key] = storedRevision{version: version, objects: objs}
	d.mu.Unlock()
	return objs, nil
}

// Prefetch reads the manifests of the revisions of lives not yet known: with
// paginated LISTs in a namespace that has at least kube.ListManifestsMin of them
// (a cold start: the CLI, a daemon's first sync), else not at all, leaving
// them to deployedObjects' GETs. A failed LIST is not an error: the GETs
// that follow report it per release.
func (d *Detector) Prefetch(ctx context.Context, lives []*kube.LiveRelease) {
	want := map[string]map[string]int{}
	d.mu.Lock()
	for _, l := range lives {
		if rev, ok := d.manifests[l.Key()]; ok && rev.version == l.Version {
			continue
		}
		if want[l.Namespace] == nil {
			want[l.Namespace] = map[string]int{}
		}
		want[l.Namespace][l.Name] = l.Version
	}
	d.mu.Unlock()
	for ns, names := range want {
		if len(names) < kube.ListManifestsMin {
			continue
		}
		found, _ := kube.ListStoredManifests(ctx, d.typed.CoreV1().Secrets(ns), names)
		for name, m := range found {
			objs, err := kube.ObjectsJSON(m)
			if err != nil {
				continue
			}
			d.mu.Lock()
			d.manifests[ns+"/"+name] = storedRevision{version: names[name], objects: objs}
			d.mu.Unlock()
		}
	}
}

// DeployedObjects returns the objects of a release revision's manifest as
// JSON, from Helm's storage (hooks excluded), read once per revision and
// kept: the same copy drift detection compares with.
func (d *Detector) DeployedObjects(ctx context.Context, namespace, name string, version int) ([][]byte, error) {
	return d.deployedObjects(ctx, namespace, name, version)
}
