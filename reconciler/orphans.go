package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/digitops/digitops/internal/parallel"
	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/reconciler/takeover"
	"github.com/digitops/digitops/source/manifest"
)

// Orphan is a live object a release rendered once and renders no more.
// Two kinds are listed: the objects a takeover adopted into the release
// (they carry its record, see claimAdopted) that a later revision stopped
// rendering, which Helm keeps and digitops deletes only with prune on; and,
// in the plan of a takeover, the Go deployer's "release-name-…" objects the
// release will not render under its own name, which digitops never deletes.
type Orphan struct {
	// Object is "Kind/namespace/name".
	Object string `json:"object"`
	// Adopted is set when the object carries the takeover record of this
	// environment's release: only such objects are ever deleted.
	Adopted bool `json:"adopted"`
	// Delete is set when the apply deletes it (adopted, and prune is on).
	Delete bool `json:"delete"`

	ref orphanRef
}

func (o Orphan) String() string {
	switch {
	case o.Delete:
		return o.Object + " (adopted at takeover, no longer rendered: deleted, prune is on)"
	case o.Adopted:
		return o.Object + " (adopted at takeover, no longer rendered: kept, prune is off)"
	default:
		return o.Object + " (the Go deployer's, not adopted: digitops never deletes it)"
	}
}

// orphanRef is what deleting an orphan needs: where it is, and which
// incarnation was planned (a re-created object of the same name is not
// deleted).
type orphanRef struct {
	resource  schema.GroupVersionResource
	namespace string
	name      string
	uid       types.UID
}

// adoptedCandidate is a live object labelled as adopted by a release.
type adoptedCandidate struct {
	// object is "Kind/namespace/name", as renderedName names it.
	object string
	// record is its AdoptedByAnnotation.
	record string
	// owner is "namespace/name" of the Helm release that owns it now.
	owner string
	ref   orphanRef
}

// adoptionRecord is the value of kube.AdoptedByAnnotation for a release.
func adoptionRecord(env, namespace, name string) string {
	return env + "/" + namespace + "/" + name
}

// decideOrphans picks, among the live objects labelled as adopted by a
// release (owner "namespace/name"), those that carry its record (want),
// that Helm still counts as the release's, and that it does not render:
// they are its orphans, deleted when prune is on. Objects another
// environment's release adopted under the same name, or another release
// took since, are none of its business. It is pure; the result is sorted by
// object.
func decideOrphans(want, owner string, prune bool, rendered map[string]bool, cands []adoptedCandidate) []Orphan {
	var out []Orphan
	for _, c := range cands {
		if c.record != want || c.owner != owner || rendered[c.object] {
			continue
		}
		out = append(out, Orphan{Object: c.object, Adopted: true, Delete: prune, ref: c.ref})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Object < out[j].Object })
	return out
}

// findOrphans lists the adopted orphans of every release that took live
// objects over and either upgrades (its render changed: what it stops
// rendering is found now) or kept orphans before (kube.LabelOrphans). A
// release that never took anything over costs nothing. An unchanged release
// whose orphans prune deletes gets the delete-orphans action.
func (p *Planner) findOrphans(ctx context.Context, env *manifest.Environment, plan *Plan) {
	if p.Cluster == nil {
		return
	}
	var idx []int
	for i := range plan.Steps {
		st := &plan.Steps[i]
		if st.Live == nil || !st.Live.TookOver || st.Live.Environment != env.Name {
			continue
		}
		if (st.Action == ActionUpgrade && st.rendered != "") || (st.Action == ActionNone && st.Live.KeptOrphans) {
			idx = append(idx, i)
		}
	}
	found := make([][]Orphan, len(idx))
	errs := make([]error, len(idx))
	parallel.ForEach(ctx, len(idx), 0, func(ctx context.Context, k int) {
		found[k], errs[k] = p.orphansOf(ctx, env, &plan.Steps[idx[k]])
	})
	for k, i := range idx {
		st := &plan.Steps[i]
		if errs[k] != nil {
			plan.Notes = append(plan.Notes, fmt.Sprintf("release %s: unable to look for the objects it adopted and no longer renders (nothing is deleted): %v", st.Release.Name, errs[k]))
			continue
		}
		st.Orphans = append(st.Orphans, found[k]...)
		st.orphansChecked = true
		deletes := 0
		for _, o := range found[k] {
			if o.Delete {
				deletes++
			}
		}
		if st.Action == ActionNone && deletes > 0 {
			st.observe(Observation{Status: StatusOrphaned, Reason: fmt.Sprintf("%d object(s) it adopted at takeover are no longer rendered: prune deletes them", deletes), Drift: st.Drift}, env.Policy.Drift)
		}
	}
}

// orphansOf reads the adopted objects of one release's kinds (those of its
// deployed revision and of the plan's render) and keeps its orphans.
func (p *Planner) orphansOf(ctx context.Context, env *manifest.Environment, st *Step) ([]Orphan, error) {
	ns := st.Release.Namespace
	version := st.Live.LastDeployed
	if version == 0 {
		version = st.Live.Version
	}
	m, err := kube.ReadStoredManifest(ctx, p.Cluster.Clientset.CoreV1().Secrets(ns), st.Release.Name, version)
	if err != nil {
		return nil, err
	}
	deployed, err := kube.ManifestObjects(m, ns)
	if err != nil {
		return nil, err
	}
	now := deployed
	if st.Action == ActionUpgrade {
		if now, err = kube.ManifestObjects(st.rendered, ns); err != nil {
			return nil, err
		}
	}
	// Objects are named "Kind/namespace/name", a cluster-scoped one
	// "Kind/name" whatever its manifest says.
	name := func(kind string, pl takeover.Place, n string) string {
		return kube.ObjectRef{Kind: kind, Namespace: pl.Namespace, Name: n}.String()
	}
	// Where to look: every place either revision has.
	var places []takeover.Place
	kinds := map[schema.GroupVersionResource]string{}
	rendered := map[string]bool{}
	for k, o := range append(slices.Clone(now), deployed...) {
		pl, err := takeover.PlaceOf(p.Cluster, schema.FromAPIVersionAndKind(o.APIVersion, o.Kind), o.Namespace)
		if err != nil {
			if meta.IsNoMatchError(err) {
				continue
			}
			return nil, err
		}
		if k < len(now) {
			rendered[name(o.Kind, pl, o.Name)] = true
		}
		if !slices.Contains(places, pl) {
			places = append(places, pl)
			kinds[pl.Resource] = o.Kind
		}
	}
	var cands []adoptedCandidate
	seen := map[types.UID]bool{}
	selector := metav1.ListOptions{LabelSelector: kube.AdoptedByLabel + "=" + st.Release.Name}
	for _, pl := range places {
		items, err := p.Cluster.Metadata.Resource(pl.Resource).Namespace(pl.Namespace).List(ctx, selector)
		if err != nil {
			return nil, fmt.Errorf("unable to list %s: %w", pl.Resource.Resource, err)
		}
		for _, it := range items.Items {
			if seen[it.UID] {
				continue
			}
			seen[it.UID] = true
			a := it.Annotations
			cands = append(cands, adoptedCandidate{
				object: name(kinds[pl.Resource], pl, it.Name),
				record: a[kube.AdoptedByAnnotation],
				owner:  a[kube.HelmReleaseNamespaceAnnotation] + "/" + a[kube.HelmReleaseNameAnnotation],
				ref:    orphanRef{resource: pl.Resource, namespace: it.Namespace, name: it.Name, uid: it.UID},
			})
		}
	}
	return decideOrphans(adoptionRecord(env.Name, ns, st.Release.Name), ns+"/"+st.Release.Name, env.Policy.Prune, rendered, cands), nil
}

// hasAdoptedOrphans reports whether orphans has one the takeover adopted,
// and whether prune deletes all of those.
func hasAdoptedOrphans(orphans []Orphan) (adopted, allDeleted bool) {
	allDeleted = true
	for _, o := range orphans {
		if o.Adopted {
			adopted = true
			allDeleted = allDeleted && o.Delete
		}
	}
	return adopted, adopted && allDeleted
}

// deleteOrphans deletes the orphans the plan marked for deletion, each only
// if it is still the incarnation the plan saw.
func deleteOrphans(ctx context.Context, c *kube.Cluster, log *slog.Logger, spec manifest.ReleaseSpec, orphans []Orphan) error {
	var errs []error
	for _, o := range orphans {
		if !o.Delete {
			continue
		}
		uid := o.ref.uid
		background := metav1.DeletePropagationBackground
		opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &background}
		var err error
		if o.ref.namespace != "" {
			err = c.Dynamic.Resource(o.ref.resource).Namespace(o.ref.namespace).Delete(ctx, o.ref.name, opts)
		} else {
			err = c.Dynamic.Resource(o.ref.resource).Delete(ctx, o.ref.name, opts)
		}
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("unable to delete orphan %s: %w", o.Object, err))
			continue
		}
		log.Info("deleted an object the release adopted and no longer renders", "release", spec.Name, "namespace", spec.Namespace, "object", o.Object)
	}
	return errors.Join(errs...)
}

// dropLabel removes a label from a stored revision, in place.
func dropLabel(cfg *action.Configuration, rel *release.Release, key string) error {
	if _, ok := rel.Labels[key]; !ok {
		return nil
	}
	delete(rel.Labels, key)
	return cfg.Releases.Update(rel)
}

// DeleteOrphans deletes the objects an unchanged release adopted at its
// takeover and no longer renders (prune is on), then clears the release's
// record that it kept some. No new revision.
type DeleteOrphans struct{ helmEnv }

var _ ActionRunner = DeleteOrphans{}

// Name implements ActionRunner.
func (DeleteOrphans) Name() Action { return ActionDeleteOrphans }

// Run implements ActionRunner.
func (a DeleteOrphans) Run(ctx context.Context, step *Step) (Applied, error) {
	if err := a.pruneOrphans(ctx, step, step.Live.Version); err != nil {
		return Applied{}, fmt.Errorf("release %q: %w", step.Release.Name, err)
	}
	return Applied{Revision: step.Live.Version}, nil
}

// pruneOrphans deletes the orphans the plan marked for deletion when prune
// deletes every one the takeover adopted, then clears the record on
// revision that the release kept some.
func (h helmEnv) pruneOrphans(ctx context.Context, step *Step, revision int) error {
	if _, all := hasAdoptedOrphans(step.Orphans); !all {
		return nil
	}
	spec := step.Release
	if err := deleteOrphans(ctx, h.cluster, h.log, spec, step.Orphans); err != nil {
		return err
	}
	cfg := h.config(spec.Namespace)
	rel, err := cfg.Releases.Get(spec.Name, revision)
	if err != nil {
		return fmt.Errorf("unable to read revision %d: %w", revision, err)
	}
	if err := dropLabel(cfg, rel, kube.LabelOrphans); err != nil {
		return fmt.Errorf("unable to clear its record of kept orphans: %w", err)
	}
	return nil
}

// claimAdopted makes Helm's field manager the only owner of every field of
// the objects an install adopted, and writes the takeover's record on them
// (kube.AdoptedByLabel and kube.AdoptedByAnnotation, for record) with Helm's
// keep policy, so that an upgrade that stops rendering one leaves it to
// digitops's prune. What kubectl (or another tool) wrote before the
// takeover is the release's now: later edits by others are drift, and the
// fields the old manager defaulted are not. Only metadata changes (no new
// generation, nothing restarts).
func claimAdopted(ctx context.Context, c *kube.Cluster, adopted map[string]*unstructured.Unstructured, release, record string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"managedFields": []any{map[string]any{}},
		"labels":        map[string]string{kube.AdoptedByLabel: release},
		"annotations":   map[string]string{kube.AdoptedByAnnotation: record, kube.HelmResourcePolicyAnnotation: "keep"},
	}})
	if err != nil {
		return err
	}
	var errs []error
	for name, o := range adopted {
		gvk := o.GroupVersionKind()
		m, err := c.Mapper().RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		opts := metav1.PatchOptions{FieldManager: drift.HelmFieldManager()}
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			_, err = c.Dynamic.Resource(m.Resource).Namespace(o.GetNamespace()).Patch(ctx, o.GetName(), types.MergePatchType, patch, opts)
		} else {
			_, err = c.Dynamic.Resource(m.Resource).Patch(ctx, o.GetName(), types.MergePatchType, patch, opts)
		}
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}
