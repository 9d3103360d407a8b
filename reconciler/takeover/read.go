package takeover

import (
	"context"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/digitops/digitops/reconciler/kube"
)

// Owner is what a takeover found about the live counterpart of one
// rendered object.
type Owner struct {
	// Exists is false when the object is not in the cluster.
	Exists bool
	// HelmRelease is "namespace/name" of the Helm release that owns it,
	// "" when none does.
	HelmRelease string
	// Environment is the digitops environment of that Helm release, ""
	// when none.
	Environment string
	// Managers are the field managers of the live object, sorted.
	Managers []string
	// Object is the live object, nil when it does not exist.
	Object *unstructured.Unstructured
}

// ReadOwner reads the live counterpart of a rendered object o: its Helm
// release from Helm's annotations, and its field managers. namespace is the
// release's, for an object that names none. It reads nothing when known
// lists o's place without o's name, or when the cluster does not serve o's
// kind (yet): the object is then absent. A read error other than not found
// is returned.
func ReadOwner(ctx context.Context, c *kube.Cluster, o *unstructured.Unstructured, namespace string, known LiveNames) (Owner, error) {
	if ns := o.GetNamespace(); ns != "" {
		namespace = ns
	}
	pl, err := PlaceOf(c, o.GroupVersionKind(), namespace)
	if err != nil {
		if meta.IsNoMatchError(err) {
			return Owner{}, nil // a kind the cluster does not serve yet: nothing to take over
		}
		return Owner{}, fmt.Errorf("object %s: %w", kube.Ref(o), err)
	}
	if names, listed := known[pl]; listed && !names[o.GetName()] {
		return Owner{}, nil
	}
	live, err := c.Dynamic.Resource(pl.Resource).Namespace(pl.Namespace).Get(ctx, o.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Owner{}, nil
	}
	if err != nil {
		return Owner{}, fmt.Errorf("unable to read %s: %w", kube.Ref(o), err)
	}
	lo := Owner{Exists: true, Object: live}
	if name := live.GetAnnotations()[kube.HelmReleaseNameAnnotation]; name != "" {
		lo.HelmRelease = live.GetAnnotations()[kube.HelmReleaseNamespaceAnnotation] + "/" + name
	}
	seen := map[string]bool{}
	for _, f := range live.GetManagedFields() {
		if f.Manager != "" && !seen[f.Manager] {
			seen[f.Manager] = true
			lo.Managers = append(lo.Managers, f.Manager)
		}
	}
	sort.Strings(lo.Managers)
	return lo, nil
}

// Rendered is one object a release renders, with the name digitops gives
// it ("Kind/namespace/name", "Kind/name" when cluster-scoped).
type Rendered struct {
	// Name names the object in adoptions, refusals and kept fields.
	Name string
	// Object is the object as rendered.
	Object *unstructured.Unstructured
}

// Live is what ReadLive found for one install.
type Live struct {
	// Names are the rendered objects read, in render order.
	Names []string
	// Owners are their live counterparts, by name.
	Owners map[string]Owner
}

// ReadLive reads, with ReadOwner, the live counterpart of every object an
// install renders (objs; its CRDs aside: Helm installs a chart's CRDs
// itself, and skips live ones). namespace is the release's; releases are
// the cluster's Helm releases, which name the digitops environment of an
// owner; known is what ListCrowded listed. It stops at the first read that
// fails and returns its error.
func ReadLive(ctx context.Context, c *kube.Cluster, namespace string, objs []Rendered, releases kube.LiveState, known LiveNames) (Live, error) {
	out := Live{Owners: map[string]Owner{}}
	for _, r := range objs {
		if r.Object.GetKind() == "CustomResourceDefinition" {
			continue
		}
		lo, err := ReadOwner(ctx, c, r.Object, namespace, known)
		if err != nil {
			return out, err
		}
		if lo.HelmRelease != "" {
			lo.Environment = releases[lo.HelmRelease].Environment
		}
		out.Names = append(out.Names, r.Name)
		out.Owners[r.Name] = lo
	}
	return out, nil
}

// Place is a kind of object in a namespace ("" when cluster-scoped): where
// a LIST looks.
type Place struct {
	// Resource is the kind's API resource.
	Resource schema.GroupVersionResource
	// Namespace is "" for a cluster-scoped kind.
	Namespace string
}

// PlaceOf maps an object's apiVersion and kind to its place with the
// cluster's REST mapper; namespace is the object's (or, when it has none,
// the release's) and is dropped for a cluster-scoped kind. The error is the
// mapper's (meta.IsNoMatchError: a kind the cluster does not serve).
func PlaceOf(c *kube.Cluster, gvk schema.GroupVersionKind, namespace string) (Place, error) {
	m, err := c.Mapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return Place{}, err
	}
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		namespace = ""
	}
	return Place{Resource: m.Resource, Namespace: namespace}, nil
}

// LiveNames are the names that exist, for the places listed; a place not
// listed is not in the map.
type LiveNames map[Place]map[string]bool

// crowdedPlace is how many rendered objects of one kind in one namespace
// make a plan list that kind's names there instead of reading each object:
// a cold install of a DIGIT environment renders dozens of Deployments,
// Services and ConfigMaps into one namespace.
const crowdedPlace = 16

// Render is one install's rendered manifest and its release's namespace
// (that of the objects that name none).
type Render struct {
	// Manifest is the rendered manifest.
	Manifest string
	// Namespace is the release's namespace.
	Namespace string
}

// ListCrowded lists, with metadata-only LISTs of up to 500 a page, the
// names of every place that the installs (renders) render at least
// crowdedPlace objects into, so that ReadOwner does not GET each object of
// a cold install (everything is absent). A manifest it cannot split, or a
// place it cannot map or list, is left to the GETs.
func ListCrowded(ctx context.Context, c *kube.Cluster, renders []Render) LiveNames {
	count := map[Place]int{}
	for _, r := range renders {
		refs, err := kube.ManifestObjects(r.Manifest, r.Namespace)
		if err != nil {
			continue
		}
		for _, ref := range refs {
			if pl, err := PlaceOf(c, schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind), ref.Namespace); err == nil {
				count[pl]++
			}
		}
	}
	known := LiveNames{}
	for pl, n := range count {
		if n < crowdedPlace {
			continue
		}
		names := map[string]bool{}
		opts := metav1.ListOptions{Limit: 500}
		ok := true
		for {
			list, err := c.Metadata.Resource(pl.Resource).Namespace(pl.Namespace).List(ctx, opts)
			if err != nil {
				ok = false
				break
			}
			for _, it := range list.Items {
				names[it.Name] = true
			}
			if opts.Continue = list.GetContinue(); opts.Continue == "" {
				break
			}
		}
		if ok {
			known[pl] = names
		}
	}
	return known
}
