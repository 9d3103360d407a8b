package reconciler

import (
	"bytes"
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/digitops/digitops/policy"
	"github.com/digitops/digitops/reconciler/kube"
)

// enforcePolicy turns every rendered install or upgrade (objects, by step:
// see renderedObjects) that would create an object the operator's policy
// refuses into an error step naming the object and the rule: nothing of
// that release is applied, and what needs it is blocked. The objects are
// the render, its hooks and the chart's CRDs. A kind's scope comes from the
// cluster, else from a CRD the plan renders, else from Kubernetes' built-in
// kinds; an object whose scope nothing tells is refused (the policy cannot
// place it).
func (p *Planner) enforcePolicy(plan *Plan, objects map[int][]*unstructured.Unstructured) {
	rules := plan.policy
	if rules == nil {
		return
	}
	crds := crdScopes{}
	for _, objs := range objects {
		crds.add(objs)
	}
	for i, objs := range objects {
		st := &plan.Steps[i]
		if st.Action == ActionError {
			continue
		}
		if err := checkObjects(rules, p.Cluster, crds, st.Release.Namespace, objs); err != nil {
			st.observe(Observation{Status: StatusInvalid, Reason: fmt.Sprintf("release %q: %v", st.Release.Name, err)}, "")
		}
	}
}

// policyObjects are the objects an install or upgrade of st creates: its
// render, its hooks and its chart's CRDs.
func policyObjects(st *Step) ([]*unstructured.Unstructured, error) {
	objs, err := kube.Objects(st.rendered + st.renderedHooks)
	if err != nil {
		return nil, err
	}
	crds, err := chartCRDs(st.chart)
	if err != nil {
		return nil, err
	}
	return append(objs, crds...), nil
}

// chartCRDs are the CRDs of c's crds/ directories, subcharts included.
func chartCRDs(c *chart.Chart) ([]*unstructured.Unstructured, error) {
	if c == nil {
		return nil, nil
	}
	var out []*unstructured.Unstructured
	for _, crd := range c.CRDObjects() {
		objs, err := kube.Objects(string(crd.File.Data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", crd.Filename, err)
		}
		out = append(out, objs...)
	}
	return out, nil
}

// checkObjects returns the policy's refusal of the first object it
// refuses, counting the others, or nil.
func checkObjects(rules *policy.Rules, c *kube.Cluster, crds crdScopes, namespace string, objs []*unstructured.Unstructured) error {
	var first error
	refused := 0
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		scoped, err := scopeOf(c, crds, gvk)
		if err == nil {
			ns := o.GetNamespace()
			if ns == "" && !scoped {
				ns = namespace
			}
			if scoped {
				ns = ""
			}
			err = rules.Object(policy.Object{Group: gvk.Group, Kind: gvk.Kind, Namespace: ns, Name: o.GetName(), ClusterScoped: scoped})
		}
		if err != nil {
			refused++
			if first == nil {
				first = err
			}
		}
	}
	if refused > 1 {
		return fmt.Errorf("%w (and %d more object(s) the policy refuses)", first, refused-1)
	}
	return first
}

// crdScopes are the kinds the CRDs of a plan define, each with whether it
// is cluster-scoped.
type crdScopes map[schema.GroupKind]bool

func (s crdScopes) add(objs []*unstructured.Unstructured) {
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		scope, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
		if kind != "" {
			s[schema.GroupKind{Group: group, Kind: kind}] = scope == "Cluster"
		}
	}
}

// scopeOf tells whether a kind is cluster-scoped: as the cluster serves
// it, else as a CRD of the plan defines it, else as Kubernetes defines its
// built-in kinds.
func scopeOf(c *kube.Cluster, crds crdScopes, gvk schema.GroupVersionKind) (clusterScoped bool, err error) {
	if c != nil {
		m, err := c.Mapper().RESTMapping(gvk.GroupKind(), gvk.Version)
		switch {
		case err == nil:
			return m.Scope.Name() != meta.RESTScopeNameNamespace, nil
		case !meta.IsNoMatchError(err):
			return false, fmt.Errorf("unable to tell the scope of %s: %w", gvk.Kind, err)
		}
	}
	if scoped, ok := crds[gvk.GroupKind()]; ok {
		return scoped, nil
	}
	if scoped, known := policy.ClusterScopedKind(gvk.Group, gvk.Kind); known {
		return scoped, nil
	}
	return false, fmt.Errorf("%s (%s) is not allowed: its scope is unknown (neither the cluster nor a CRD of the plan defines it), so the policy cannot place it", gvk.Kind, gvk.GroupVersion())
}

// policyPostRenderer checks, when Helm renders a release again as it acts
// (a template reads live objects, a hook, …), that what it will apply is
// still within the policy the plan was checked against; it changes
// nothing.
type policyPostRenderer struct {
	rules     *policy.Rules
	cluster   *kube.Cluster
	namespace string
}

// Run implements postrender.PostRenderer.
func (r policyPostRenderer) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	objs, err := kube.Objects(in.String())
	if err != nil {
		return nil, err
	}
	crds := crdScopes{}
	crds.add(objs)
	if err := checkObjects(r.rules, r.cluster, crds, r.namespace, objs); err != nil {
		return nil, err
	}
	return in, nil
}

// lookupRefused is the policy's refusal of a release whose chart calls
// lookup (calls: where), or nil.
func lookupRefused(rules *policy.Rules, calls []string) error {
	if len(calls) == 0 {
		return nil
	}
	if err := rules.Lookup(); err != nil {
		return fmt.Errorf("its chart calls Helm's lookup (%s): %w", strings.Join(calls, ", "), err)
	}
	return nil
}

// PolicyRefusal checks one release's offline render against the
// operator's policy, as a plan does: its namespace, its lookups (calls,
// see LookupCalls) and every object of m (hooks and CRDs included), the
// scope of a kind told by a CRD of m or Kubernetes' built-in kinds. It
// returns the refusal, or nil.
func PolicyRefusal(rules *policy.Rules, namespace string, calls []string, m string) error {
	if err := rules.Namespace(namespace); err != nil {
		return err
	}
	if err := lookupRefused(rules, calls); err != nil {
		return err
	}
	if rules == nil {
		return nil
	}
	objs, err := kube.Objects(m)
	if err != nil {
		return err
	}
	crds := crdScopes{}
	crds.add(objs)
	return checkObjects(rules, nil, crds, namespace, objs)
}
