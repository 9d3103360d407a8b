package reconciler

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/digitops/digitops/reconciler/kube"
)

// removedAPI is an API version of a kind that Kubernetes stopped serving.
type removedAPI struct {
	// minor is the Kubernetes minor version (1.minor) that no longer
	// serves it.
	minor int
	// replacement is the apiVersion to use instead, "" when the kind went
	// with it (PodSecurityPolicy).
	replacement string
}

// removedAPIOf returns when Kubernetes stopped serving the kind at apiVersion
// (kind "" asks for every kind of that version: the version itself), as
// the deprecation guide lists them; false when it still serves it.
func removedAPIOf(apiVersion, kind string) (removedAPI, bool) {
	switch apiVersion {
	case "extensions/v1beta1":
		switch kind {
		case "Deployment", "DaemonSet", "ReplicaSet":
			return removedAPI{16, "apps/v1"}, true
		case "NetworkPolicy":
			return removedAPI{16, "networking.k8s.io/v1"}, true
		case "PodSecurityPolicy":
			return removedAPI{16, ""}, true
		}
		return removedAPI{22, "networking.k8s.io/v1"}, true // Ingress, the last
	case "apps/v1beta1", "apps/v1beta2":
		return removedAPI{16, "apps/v1"}, true
	case "batch/v2alpha1":
		return removedAPI{21, "batch/v1"}, true
	case "networking.k8s.io/v1beta1", "rbac.authorization.k8s.io/v1beta1", "rbac.authorization.k8s.io/v1alpha1",
		"apiextensions.k8s.io/v1beta1", "apiregistration.k8s.io/v1beta1", "authentication.k8s.io/v1beta1",
		"authorization.k8s.io/v1beta1", "certificates.k8s.io/v1beta1", "coordination.k8s.io/v1beta1",
		"scheduling.k8s.io/v1beta1", "scheduling.k8s.io/v1alpha1":
		group, _, _ := strings.Cut(apiVersion, "/")
		return removedAPI{22, group + "/v1"}, true
	case "admissionregistration.k8s.io/v1beta1":
		if kind == "MutatingWebhookConfiguration" || kind == "ValidatingWebhookConfiguration" {
			return removedAPI{22, "admissionregistration.k8s.io/v1"}, true
		}
	case "storage.k8s.io/v1beta1":
		if kind == "CSIStorageCapacity" || kind == "" {
			return removedAPI{27, "storage.k8s.io/v1"}, true
		}
		return removedAPI{22, "storage.k8s.io/v1"}, true
	case "batch/v1beta1":
		return removedAPI{25, "batch/v1"}, true
	case "discovery.k8s.io/v1beta1", "events.k8s.io/v1beta1", "node.k8s.io/v1beta1":
		group, _, _ := strings.Cut(apiVersion, "/")
		return removedAPI{25, group + "/v1"}, true
	case "policy/v1beta1":
		if kind == "PodSecurityPolicy" {
			return removedAPI{25, ""}, true
		}
		return removedAPI{25, "policy/v1"}, true
	case "autoscaling/v2beta1":
		return removedAPI{25, "autoscaling/v2"}, true
	case "autoscaling/v2beta2":
		return removedAPI{26, "autoscaling/v2"}, true
	case "flowcontrol.apiserver.k8s.io/v1beta1":
		return removedAPI{26, "flowcontrol.apiserver.k8s.io/v1"}, true
	case "flowcontrol.apiserver.k8s.io/v1beta2":
		return removedAPI{29, "flowcontrol.apiserver.k8s.io/v1"}, true
	case "flowcontrol.apiserver.k8s.io/v1beta3":
		return removedAPI{32, "flowcontrol.apiserver.k8s.io/v1"}, true
	}
	return removedAPI{}, false
}

// kubeMinor is the minor of a Kubernetes version ("v1.37.2" → 37), 0 when
// it does not parse.
func kubeMinor(version string) int {
	kv, err := chartutil.ParseKubeVersion(version)
	if err != nil {
		return 0
	}
	m, _ := strconv.Atoi(strings.TrimRight(kv.Minor, "+"))
	return m
}

// servedAPIVersions are Helm's built-in API versions (what `helm
// template` tells charts the cluster has) without those Kubernetes at
// version no longer serves: what an offline plan tells charts, so that a
// chart choosing by .Capabilities.APIVersions chooses as on a real cluster
// of that version.
func servedAPIVersions(version string) chartutil.VersionSet {
	minor := kubeMinor(version)
	var out chartutil.VersionSet
	for _, v := range chartutil.DefaultVersionSet {
		if r, ok := removedAPIOf(v, ""); ok && minor >= r.minor {
			continue
		}
		out = append(out, v)
	}
	return out
}

// maxNamedRemovedAPIs is how many objects a removed-API error names.
const maxNamedRemovedAPIs = 5

// checkAPIVersions turns every rendered install or upgrade (objects, by
// step) with an object whose API version the cluster does not serve into
// an error step naming each object and the version to use instead. Online
// the cluster's discovery decides (a kind it serves at other versions
// only); offline, the Kubernetes version the plan renders for and the
// deprecation guide do. A kind the cluster does not serve at all (a CRD
// the plan installs) is left to Helm.
func (p *Planner) checkAPIVersions(ctx context.Context, plan *Plan, objects map[int][]*unstructured.Unstructured) {
	version := p.KubeVersion
	if version == "" {
		version = DefaultKubeVersion()
	}
	if p.Cluster != nil {
		if caps, err := p.Cluster.Capabilities(); err == nil {
			version = caps.KubeVersion.Version
		}
	}
	for i, objs := range objects {
		if ctx.Err() != nil {
			return
		}
		st := &plan.Steps[i]
		if st.Action == ActionError {
			continue
		}
		var found []string
		for _, o := range objs {
			if why := p.removedAPI(o, st.Release.Namespace, version); why != "" {
				found = append(found, why)
			}
		}
		if len(found) == 0 {
			continue
		}
		more := ""
		if n := len(found) - maxNamedRemovedAPIs; n > 0 {
			found, more = found[:maxNamedRemovedAPIs], fmt.Sprintf("; and %d more", n)
		}
		st.observe(Observation{Status: StatusInvalid, Reason: fmt.Sprintf("release %q renders API versions Kubernetes %s does not serve: %s%s", st.Release.Name, version, strings.Join(found, "; "), more)}, "")
	}
}

// removedAPI says why o's API version is not served ("Kind ns/name uses
// policy/v1beta1 (removed in v1.25): use policy/v1"), or "" when it is.
func (p *Planner) removedAPI(o *unstructured.Unstructured, namespace, version string) string {
	gvk := o.GroupVersionKind()
	apiVersion := gvk.GroupVersion().String()
	r, known := removedAPIOf(apiVersion, gvk.Kind)
	if p.Cluster != nil {
		served, replacement := servedByCluster(p.Cluster, gvk)
		if served {
			return ""
		}
		if replacement == "" && !known {
			return "" // a kind the cluster does not know (a CRD of the plan): Helm tells
		}
		if !known {
			r.replacement = replacement
		}
	} else if !known || kubeMinor(version) < r.minor {
		return ""
	}
	name := objectName(p.Cluster, o, namespace)
	use := ": use " + r.replacement
	if r.replacement == "" {
		use = ": the kind is gone, with no replacement"
	}
	removed := ""
	if known {
		removed = fmt.Sprintf(" (removed in v1.%d)", r.minor)
	}
	return fmt.Sprintf("%s uses %s%s%s", name, apiVersion, removed, use)
}

// servedByCluster reports whether the cluster serves gvk, and otherwise the
// apiVersion it serves that kind at ("" when it does not know the kind).
func servedByCluster(c *kube.Cluster, gvk schema.GroupVersionKind) (served bool, replacement string) {
	if _, err := c.Mapper().RESTMapping(gvk.GroupKind(), gvk.Version); err == nil || !meta.IsNoMatchError(err) {
		return true, "" // served, or the mapper cannot tell: Helm will
	}
	m, err := c.Mapper().RESTMapping(gvk.GroupKind())
	if err != nil {
		return false, ""
	}
	return false, m.GroupVersionKind.GroupVersion().String()
}

// objectName names a rendered object as plan output does: Kind ns/name, or
// Kind/name when it is cluster-scoped (see scopeOf) or has no namespace.
func objectName(c *kube.Cluster, o *unstructured.Unstructured, namespace string) string {
	ns := o.GetNamespace()
	if ns == "" {
		ns = namespace
	}
	if scoped, err := scopeOf(c, nil, o.GroupVersionKind()); ns == "" || (err == nil && scoped) {
		return o.GetKind() + "/" + o.GetName()
	}
	return o.GetKind() + " " + ns + "/" + o.GetName()
}

// renderedObjects parses the objects each rendered step (idx) creates (see
// policyObjects); a step whose objects cannot be read becomes an error.
func (p *Planner) renderedObjects(ctx context.Context, plan *Plan, idx []int) map[int][]*unstructured.Unstructured {
	out := make(map[int][]*unstructured.Unstructured, len(idx))
	for _, i := range idx {
		st := &plan.Steps[i]
		if st.Action == ActionError || ctx.Err() != nil {
			continue
		}
		objs, err := policyObjects(st)
		if err != nil {
			st.observe(Observation{Status: StatusInvalid, Reason: fmt.Sprintf("release %q: unable to read its rendered objects: %v", st.Release.Name, err)}, "")
			continue
		}
		out[i] = slices.Clip(objs)
	}
	return out
}
