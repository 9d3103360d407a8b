package reconciler

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"

	"github.com/digitops/digitops/internal/parallel"
	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// Adoption is a live object that an install takes into its new Helm
// release: the object exists (applied by kubectl, the Go deployer, by hand,
// or another Helm release when the policy allows it) and the release renders
// it.
type Adoption struct {
	// Object is "Kind/namespace/name" ("Kind/name" when cluster-scoped).
	Object string `json:"object"`
	// Owner is what writes it today: its field managers, or the Helm
	// release that owns it.
	Owner string `json:"owner"`
	// Kept are the fields whose live value the install keeps: they render
	// differently on every run (a `now` stamped on a pod template), so that
	// taking the object over restarts nothing.
	Kept []string `json:"kept,omitempty"`
	// fromRelease is "namespace/name" of the Helm release the object is
	// taken from, "" when none owns it.
	fromRelease string
}

func (a Adoption) String() string {
	s := a.Object + " (" + a.Owner + ")"
	if len(a.Kept) > 0 {
		s += ", keeps live " + strings.Join(a.Kept, ", ")
	}
	return s
}

// liveOwner is what a takeover found about one rendered object.
type liveOwner struct {
	// exists is false when the object is not in the cluster.
	exists bool
	// helmRelease is "namespace/name" of the Helm release that owns it,
	// "" when none does.
	helmRelease string
	// environment is the digitops environment of that Helm release, ""
	// when none.
	environment string
	// managers are the field managers of the live object.
	managers []string
	object   *unstructured.Unstructured
}

// readOwner reads the live counterpart of a rendered object (none when
// known lists its place without its name).
func readOwner(ctx context.Context, c *kube.Cluster, o *unstructured.Unstructured, namespace string, known liveNames) (liveOwner, error) {
	if ns := o.GetNamespace(); ns != "" {
		namespace = ns
	}
	pl, err := placeOf(c, o.GroupVersionKind(), namespace)
	if err != nil {
		if meta.IsNoMatchError(err) {
			return liveOwner{}, nil // a kind the cluster does not serve yet: nothing to take over
		}
		return liveOwner{}, fmt.Errorf("object %s: %w", kube.Ref(o), err)
	}
	if names, listed := known[pl]; listed && !names[o.GetName()] {
		return liveOwner{}, nil
	}
	live, err := c.Dynamic.Resource(pl.resource).Namespace(pl.namespace).Get(ctx, o.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return liveOwner{}, nil
	}
	if err != nil {
		return liveOwner{}, fmt.Errorf("unable to read %s: %w", kube.Ref(o), err)
	}
	lo := liveOwner{exists: true, object: live}
	if name := live.GetAnnotations()[kube.HelmReleaseNameAnnotation]; name != "" {
		lo.helmRelease = live.GetAnnotations()[kube.HelmReleaseNamespaceAnnotation] + "/" + name
	}
	seen := map[string]bool{}
	for _, f := range live.GetManagedFields() {
		if f.Manager != "" && !seen[f.Manager] {
			seen[f.Manager] = true
			lo.managers = append(lo.managers, f.Manager)
		}
	}
	sort.Strings(lo.managers)
	return lo, nil
}

// takeoverDecision is what an install does with the live objects it
// renders. It is pure: decideTakeover makes it from what readOwner found.
type takeoverDecision struct {
	adopt []Adoption
	// refused names the objects the install cannot take, with their owner;
	// the step is then an error.
	refused []string
	// hint is the remedy the refusal message ends with, when there is one
	// that fits every refusal: "" when some refusal has none.
	hint string
}

// decideTakeover classifies the live counterparts of a release's rendered
// objects (names in render order, owners by name) under the adoption mode.
func decideTakeover(env, release, namespace string, mode manifest.AdoptMode, names []string, owners map[string]liveOwner) takeoverDecision {
	var d takeoverDecision
	self := namespace + "/" + release
	helmOwned, other := false, false
	for _, name := range names {
		lo := owners[name]
		switch {
		case !lo.exists, lo.helmRelease == self:
			// Absent, or already this release's (Helm takes it itself).
		case lo.environment != "" && lo.environment != env:
			d.refused = append(d.refused, name+" belongs to Helm release "+lo.helmRelease+" of digitops environment "+lo.environment+", which digitops never takes from it")
			other = true
		case mode == manifest.AdoptNone:
			d.refused = append(d.refused, name+" exists (sync.adopt is none)")
			other = true
		case lo.helmRelease != "" && mode != manifest.AdoptHelmReleases:
			d.refused = append(d.refused, name+" belongs to Helm release "+lo.helmRelease)
			helmOwned = true
		case lo.helmRelease != "":
			d.adopt = append(d.adopt, Adoption{Object: name, Owner: "Helm release " + lo.helmRelease, fromRelease: lo.helmRelease})
		default:
			owner := "no Helm owner"
			if len(lo.managers) > 0 {
				owner = "managed by " + strings.Join(lo.managers, ", ")
			}
			d.adopt = append(d.adopt, Adoption{Object: name, Owner: owner})
		}
	}
	if helmOwned && !other {
		d.hint = " (set sync.adopt: helm-releases to take them)"
	}
	return d
}

// findTakeovers looks, for every install the plan renders (idx), for the
// live objects it would create: those that exist without being this
// release's become the step's adoptions, or make it an error (an object of
// another Helm release, unless the policy allows it). For the adopted
// objects, the fields that render differently on every run keep their live
// value at install, found by a second render in the next second. Offline
// plans (no cluster) look at nothing.
func (p *Planner) findTakeovers(ctx context.Context, env *manifest.Environment, live kube.LiveState, plan *Plan, idx []int) {
	if p.Cluster == nil {
		return
	}
	var installs []int
	for _, i := range idx {
		if st := &plan.Steps[i]; st.Action == ActionInstall && st.rendered != "" {
			installs = append(installs, i)
		}
	}
	// The reads: one metadata LIST where many installs render into a kind
	// and namespace (a cold install: everything is absent), then one GET
	// per rendered object that may exist, in parallel across releases.
	known := p.listCrowdedPlaces(ctx, plan, installs)
	found := make([]renderedOwners, len(installs))
	parallel.ForEach(ctx, len(installs), 0, func(ctx context.Context, k int) {
		found[k] = p.readRenderedOwners(ctx, &plan.Steps[installs[k]], live, known)
	})
	var adopting []int
	// claimed is every object an install of this plan takes, by name: two
	// installs never take the same object.
	claimed := map[string]string{}
	for k, i := range installs {
		st := &plan.Steps[i]
		names, owners := found[k].names, found[k].owners
		if found[k].err != nil {
			st.observe(Observation{Status: StatusInvalid, Reason: fmt.Sprintf("release %q: unable to look for live objects to take over: %v", st.Release.Name, found[k].err)}, "")
			continue
		}
		d := decideTakeover(env.Name, st.Release.Name, st.Release.Namespace, env.Policy.Adopt, names, owners)
		for _, a := range d.adopt {
			if other, ok := claimed[a.Object]; ok {
				d.refused = append(d.refused, a.Object+" is also rendered by release "+other)
				d.hint = ""
			}
		}
		if len(d.refused) > 0 {
			st.observe(Observation{Status: StatusInvalid, Reason: fmt.Sprintf("release %q cannot be installed over live objects: %s%s", st.Release.Name, strings.Join(d.refused, "; "), d.hint)}, "")
			continue
		}
		if len(d.adopt) == 0 {
			continue
		}
		for _, a := range d.adopt {
			claimed[a.Object] = st.Release.Name
		}
		st.Adopt = d.adopt
		st.Reason += fmt.Sprintf("; takes over %d live object(s)", len(d.adopt))
		st.liveAdopted = map[string]*unstructured.Unstructured{}
		for _, a := range d.adopt {
			st.liveAdopted[a.Object] = owners[a.Object].object
		}
		adopting = append(adopting, i)
	}
	if len(adopting) == 0 {
		return
	}
	// A second render in the next second names what renders differently
	// every time (see noteNondeterminism).
	if !waitNextSecond(ctx) {
		return
	}
	for _, i := range adopting {
		st := &plan.Steps[i]
		again, err := Render(ctx, st.Release, st.chart, renderOptions(p.Cluster, p.KubeVersion, st))
		if err != nil {
			continue
		}
		st.keepLive = keptFields(st.rendered, again, st.Release.Namespace, st.liveAdopted)
		for k := range st.Adopt {
			for path := range st.keepLive[st.Adopt[k].Object] {
				st.Adopt[k].Kept = append(st.Adopt[k].Kept, path)
			}
			sort.Strings(st.Adopt[k].Kept)
		}
	}
}

// crowdedPlace is how many rendered objects of one kind in one namespace
// make a plan list that kind's names there instead of reading each object:
// a cold install of a DIGIT environment renders dozens of Deployments,
// Services and ConfigMaps into one namespace.
const crowdedPlace = 16

// place is a kind of object in a namespace ("" when cluster-scoped): where
// a LIST looks.
type place struct {
	resource  schema.GroupVersionResource
	namespace string
}

// placeOf maps an object's apiVersion and kind to its place; namespace is
// the object's (or, when it has none, the release's) and is dropped for a
// cluster-scoped kind. The error is the mapper's (meta.IsNoMatchError: a
// kind the cluster does not serve).
func placeOf(c *kube.Cluster, gvk schema.GroupVersionKind, namespace string) (place, error) {
	m, err := c.Mapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return place{}, err
	}
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		namespace = ""
	}
	return place{resource: m.Resource, namespace: namespace}, nil
}

// liveNames are the names that exist, for the places listed; a place not
// listed is not in the map.
type liveNames map[place]map[string]bool

// listCrowdedPlaces lists, with metadata-only LISTs of up to 500 a page,
// the names of every place that installs (step indexes) render at least
// crowdedPlace objects into. A place it cannot list is left to the GETs.
func (p *Planner) listCrowdedPlaces(ctx context.Context, plan *Plan, installs []int) liveNames {
	count := map[place]int{}
	for _, i := range installs {
		st := &plan.Steps[i]
		refs, err := kube.ManifestObjects(st.rendered, st.Release.Namespace)
		if err != nil {
			continue
		}
		for _, r := range refs {
			if pl, err := placeOf(p.Cluster, schema.FromAPIVersionAndKind(r.APIVersion, r.Kind), r.Namespace); err == nil {
				count[pl]++
			}
		}
	}
	known := liveNames{}
	for pl, n := range count {
		if n < crowdedPlace {
			continue
		}
		names := map[string]bool{}
		opts := metav1.ListOptions{Limit: 500}
		ok := true
		for {
			list, err := p.Cluster.Metadata.Resource(pl.resource).Namespace(pl.namespace).List(ctx, opts)
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

// renderedOwners is what readRenderedOwners found for one install.
type renderedOwners struct {
	names  []string
	owners map[string]liveOwner
	err    error
}

// readRenderedOwners reads the live counterpart of every object an install
// renders (its CRDs aside: Helm installs a chart's CRDs itself, and skips
// live ones).
func (p *Planner) readRenderedOwners(ctx context.Context, st *Step, live kube.LiveState, known liveNames) renderedOwners {
	out := renderedOwners{owners: map[string]liveOwner{}}
	objs, err := kube.Objects(st.rendered)
	if err != nil {
		return out // the install reports it
	}
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			continue
		}
		name := renderedName(o, st.Release.Namespace)
		lo, err := readOwner(ctx, p.Cluster, o, st.Release.Namespace, known)
		if err != nil {
			out.err = err
			return out
		}
		if lo.helmRelease != "" {
			lo.environment = live[lo.helmRelease].Environment
		}
		out.names = append(out.names, name)
		out.owners[name] = lo
	}
	return out
}

// keptFields returns, by object, the fields (JSON pointers) that differ
// between two renders and that the live object has, with the live value.
func keptFields(a, b, namespace string, live map[string]*unstructured.Unstructured) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, np := range nondeterministicPaths(a, b, namespace) {
		name, path, ok := strings.Cut(np, " ")
		if !ok || live[name] == nil {
			continue
		}
		if v, found := drift.PointerGet(live[name].Object, path); found {
			if out[name] == nil {
				out[name] = map[string]any{}
			}
			out[name][path] = v
		}
	}
	return out
}

// findRelabels looks at every upgrade of a release digitops did not install
// (a helmfile release under the same name): when the deployed revision was
// made from a chart of the same name and version, with the same values, and
// its stored manifest equals the plan's render but for the fields that
// render differently on every run, the step only records digitops's labels
// on that revision (no new revision, nothing restarts). idx are the
// rendered steps.
func (p *Planner) findRelabels(ctx context.Context, plan *Plan, idx []int) {
	if p.Cluster == nil {
		return
	}
	type candidate struct {
		i      int
		stored string
	}
	var cands []candidate
	for _, i := range idx {
		st := &plan.Steps[i]
		if st.Action != ActionUpgrade || st.Live == nil || st.Live.Environment != "" || st.Live.Status != release.StatusDeployed || st.rendered == "" || st.chart == nil {
			continue
		}
		rel, err := p.Cluster.ActionConfig(st.Release.Namespace, slog.New(slog.DiscardHandler)).Releases.Get(st.Release.Name, st.Live.Version)
		if err != nil || rel.Chart == nil || rel.Chart.Metadata == nil {
			continue
		}
		if rel.Chart.Metadata.Name != st.chart.Metadata.Name || rel.Chart.Metadata.Version != st.chart.Metadata.Version || ValuesDigest(rel.Config) != st.Desired.ValuesDigest {
			continue
		}
		cands = append(cands, candidate{i, rel.Manifest})
	}
	if len(cands) == 0 {
		return
	}
	if !waitNextSecond(ctx) {
		return
	}
	for _, c := range cands {
		st := &plan.Steps[c.i]
		again, err := Render(ctx, st.Release, st.chart, renderOptions(p.Cluster, p.KubeVersion, st))
		if err != nil {
			continue
		}
		nondeterministic := map[string]bool{}
		for _, path := range nondeterministicPaths(st.rendered, again, st.Release.Namespace) {
			nondeterministic[path] = true
		}
		// Both ways: an object only one side has differs too (the
		// render's CRDs aside: Helm's manifest never has them).
		same := true
		diffs := append(nondeterministicPaths(c.stored, st.rendered, st.Release.Namespace),
			nondeterministicPaths(st.rendered, c.stored, st.Release.Namespace)...)
		for _, path := range diffs {
			if !nondeterministic[path] && !strings.HasPrefix(path, "CustomResourceDefinition/") {
				same = false
				break
			}
		}
		if same {
			st.observe(Observation{Status: StatusInstalledAlike, Reason: fmt.Sprintf("installed by another tool with this chart and these values: digitops records its labels on revision %d (no new revision)", st.Live.Version), Drift: st.Drift}, "")
		}
	}
}

// usesReleaseName reports whether a template of c or of its dependencies
// reads .Release.Name.
func usesReleaseName(c *chart.Chart) bool {
	return anyTemplate(c, func(t *chart.File) bool { return bytes.Contains(t.Data, []byte(".Release.Name")) })
}

// anyTemplate reports whether f holds for a template of c or of its
// dependencies, in that order; it stops at the first.
func anyTemplate(c *chart.Chart, f func(*chart.File) bool) bool {
	if slices.ContainsFunc(c.Templates, f) {
		return true
	}
	return slices.ContainsFunc(c.Dependencies(), func(d *chart.Chart) bool { return anyTemplate(d, f) })
}

// noteDeployerNames adds a plan note for every install (idx are the
// rendered steps) whose chart names objects after .Release.Name when the Go
// deployer's names for them ("release-name-…") are live: the install would
// create its own beside them, and the environment files likely point at the
// deployer's. releaseName: deployer keeps them. It looks only in a plan
// that takes live objects over (a cluster the Go deployer ran): it renders
// each such install once more, which a fresh cluster's cold install must
// not pay.
func (p *Planner) noteDeployerNames(ctx context.Context, plan *Plan, idx []int) {
	if p.Cluster == nil || !slices.ContainsFunc(plan.Steps, func(st Step) bool { return len(st.Adopt) > 0 }) {
		return
	}
	for _, i := range idx {
		st := &plan.Steps[i]
		if st.Action != ActionInstall || st.rendered == "" || st.chart == nil || st.Release.TemplateName != "" || !usesReleaseName(st.chart) {
			continue
		}
		spec := st.Release
		spec.TemplateName = manifest.DeployerReleaseName
		theirs, err := Render(ctx, spec, st.chart, renderOptions(p.Cluster, p.KubeVersion, st))
		if err != nil {
			continue
		}
		ours, err1 := kube.Objects(st.rendered)
		deployer, err2 := kube.Objects(theirs)
		if err1 != nil || err2 != nil {
			continue
		}
		mine := map[string]bool{}
		for _, o := range ours {
			mine[renderedName(o, st.Release.Namespace)] = true
		}
		var left []string
		for _, o := range deployer {
			name := renderedName(o, st.Release.Namespace)
			if mine[name] {
				continue
			}
			if lo, err := readOwner(ctx, p.Cluster, o, st.Release.Namespace, nil); err == nil && lo.exists && lo.helmRelease == "" {
				left = append(left, name)
			}
		}
		if len(left) == 0 {
			continue
		}
		for _, name := range left {
			st.Orphans = append(st.Orphans, Orphan{Object: name})
		}
		more := ""
		if len(left) > maxNondeterministicPaths {
			more = fmt.Sprintf(" and %d more", len(left)-maxNondeterministicPaths)
			left = left[:maxNondeterministicPaths]
		}
		plan.Notes = append(plan.Notes, fmt.Sprintf("release %s names its objects after the Helm release, but the Go deployer's are live under %q: %s%s would stay beside the new ones (and what points at them keeps doing so); set releaseName: deployer on the environment to adopt them instead",
			st.Release.Name, manifest.DeployerReleaseName, strings.Join(left, ", "), more))
	}
}
