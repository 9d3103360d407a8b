package reconciler

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"helm.sh/helm/v3/pkg/releaseutil"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/digitops/digitops/source/manifest"
)

// DriftDetector compares the objects a release deployed (the manifest Helm
// stored for the release's revision) with the live objects.
//
// It reads, never writes: one GET of the release's storage Secret per
// revision (kept in memory after that) and one GET per object per check.
// It counts its API requests (Requests) so that a plan can say what it cost.
type DriftDetector struct {
	cluster  *Cluster
	dynamic  dynamic.Interface
	typed    kubernetes.Interface
	requests *requestCounter

	mu        sync.Mutex
	manifests map[string][]*unstructured.Unstructured
}

// NewDriftDetector builds a detector over a cluster, with its own clients
// whose requests it counts.
func NewDriftDetector(c *Cluster) (*DriftDetector, error) {
	d := &DriftDetector{cluster: c, requests: newRequestCounter(), manifests: map[string][]*unstructured.Unstructured{}}
	cfg := rest.CopyConfig(c.Config)
	cfg.Wrap(d.requests.wrap)
	var err error
	if d.dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("unable to create dynamic client: %w", err)
	}
	if d.typed, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("unable to create Kubernetes client: %w", err)
	}
	return d, nil
}

// Requests is the number of API requests the detector has made.
func (d *DriftDetector) Requests() int64 { return int64(d.requests.snapshot().Total()) }

// Detect returns the drift of one release against its deployed revision
// live.Version. It changes nothing.
func (d *DriftDetector) Detect(ctx context.Context, spec manifest.ReleaseSpec, live *LiveRelease, policy manifest.SyncPolicy) ([]DriftItem, error) {
	objs, err := d.inspect(ctx, spec, live, policy)
	if err != nil {
		return nil, err
	}
	var items []DriftItem
	for _, o := range objs {
		for _, f := range o.findings {
			items = append(items, f.DriftItem)
		}
	}
	return items, nil
}

// objectDrift is the drift of one object of a release.
type objectDrift struct {
	desired  *unstructured.Unstructured
	live     *unstructured.Unstructured // nil when deleted
	client   dynamic.ResourceInterface
	findings []finding
}

// inspect GETs every object of the release and compares it.
func (d *DriftDetector) inspect(ctx context.Context, spec manifest.ReleaseSpec, live *LiveRelease, policy manifest.SyncPolicy) ([]objectDrift, error) {
	desired, err := d.deployedObjects(ctx, live.Namespace, live.Name, live.Version)
	if err != nil {
		return nil, err
	}
	opts := newCompareOptions(spec, policy)
	out := make([]objectDrift, 0, len(desired))
	for _, obj := range desired {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		o, err := d.inspectObject(ctx, obj, live.Namespace, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// inspectObject GETs one object and compares it with what was deployed.
func (d *DriftDetector) inspectObject(ctx context.Context, obj *unstructured.Unstructured, namespace string, opts compareOptions) (objectDrift, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := d.cluster.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return objectDrift{}, fmt.Errorf("unable to map %s %q: %w", gvk.Kind, obj.GetName(), err)
	}
	desired := obj.DeepCopy()
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
	lo, err := client.Get(ctx, desired.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if !ignored(opts.ignore, desired, "") {
			o.findings = []finding{{DriftItem: DriftItem{Object: MaskSecrets(objectName(desired), opts.secrets), Kind: DriftDeleted}}}
		}
		return o, nil
	case err != nil:
		return o, fmt.Errorf("unable to get %s: %w", objectName(desired), err)
	}
	o.live = lo
	o.findings = compareObject(desired, lo, opts)
	return o, nil
}

// deployedObjects returns the objects of a release revision's manifest
// (hooks excluded: Helm keeps them apart), from Helm's storage Secret.
func (d *DriftDetector) deployedObjects(ctx context.Context, namespace, name string, version int) ([]*unstructured.Unstructured, error) {
	key := namespace + "/" + name + "/" + strconv.Itoa(version)
	d.mu.Lock()
	objs, ok := d.manifests[key]
	d.mu.Unlock()
	if ok {
		return objs, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	store := storage.Init(driver.NewSecrets(d.typed.CoreV1().Secrets(namespace)))
	rel, err := store.Get(name, version)
	if err != nil {
		return nil, fmt.Errorf("unable to read release %q revision %d: %w", name, version, err)
	}
	objs, err = parseManifest(rel.Manifest)
	if err != nil {
		return nil, fmt.Errorf("release %q revision %d: %w", name, version, err)
	}
	d.mu.Lock()
	d.manifests[key] = objs
	d.mu.Unlock()
	return objs, nil
}

// parseManifest splits a rendered manifest into objects, in order.
func parseManifest(m string) ([]*unstructured.Unstructured, error) {
	docs := releaseutil.SplitManifests(m)
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return manifestIndex(keys[i]) < manifestIndex(keys[j]) })
	var out []*unstructured.Unstructured
	for _, k := range keys {
		js, err := yaml.YAMLToJSON([]byte(docs[k]))
		if err != nil {
			return nil, fmt.Errorf("unable to parse manifest: %w", err)
		}
		if s := strings.TrimSpace(string(js)); s == "null" || s == "{}" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			return nil, fmt.Errorf("unable to decode manifest object: %w", err)
		}
		if u.IsList() || u.GetKind() == "" || u.GetName() == "" {
			continue
		}
		out = append(out, u)
	}
	return out, nil
}

func manifestIndex(k string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(k, "manifest-"))
	return n
}
