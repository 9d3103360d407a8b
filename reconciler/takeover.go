package reconciler

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"helm.sh/helm/v3/pkg/release"

	"github.com/digitops/digitops/internal/parallel"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/reconciler/takeover"
	"github.com/digitops/digitops/source/manifest"
)

// The Planner's takeovers: it renders and fills the plan's steps; what an
// install may take, and the reads that decision rests on, are package
// takeover's.

// Adoption is a live object that an install takes into its new Helm
// release (takeover.Adoption): Step.Adopt, and "adopt" in the plan's JSON.
type Adoption = takeover.Adoption

// findTakeovers looks, for every install the plan renders (idx), for the
// live objects it would create: those that exist without being this
// release's become the step's adoptions, or make it an error (an object of
// another Helm release, unless the policy allows it). For the adopted
// objects, the fields that render differently on every run keep their live
// value at install, found by a second render as if later (rendersAgain). Offline
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
	renders := make([]takeover.Render, len(installs))
	for k, i := range installs {
		renders[k] = takeover.Render{Manifest: plan.Steps[i].rendered, Namespace: plan.Steps[i].Release.Namespace}
	}
	known := takeover.ListCrowded(ctx, p.Cluster, renders)
	type read struct {
		live takeover.Live
		err  error
	}
	reads := make([]read, len(installs))
	parallel.ForEach(ctx, len(installs), 0, func(ctx context.Context, k int) {
		st := &plan.Steps[installs[k]]
		reads[k].live, reads[k].err = takeover.ReadLive(ctx, p.Cluster, st.Release.Namespace, renderedObjects(st.rendered, st.Release.Namespace), live, known)
	})
	var adopting []int
	claims := takeover.Claims{}
	for k, i := range installs {
		st := &plan.Steps[i]
		if reads[k].err != nil {
			st.observe(Observation{Status: StatusInvalid, Reason: fmt.Sprintf("release %q: unable to look for live objects to take over: %v", st.Release.Name, reads[k].err)}, "")
			continue
		}
		d := claims.Claim(st.Release.Name, takeover.Decide(env.Name, st.Release.Name, st.Release.Namespace, env.Policy.Adopt, reads[k].live))
		if len(d.Refused) > 0 {
			st.observe(Observation{Status: StatusInvalid, Reason: fmt.Sprintf("release %q cannot be installed over live objects: %s%s", st.Release.Name, strings.Join(d.Refused, "; "), d.Hint)}, "")
			continue
		}
		if len(d.Adopt) == 0 {
			continue
		}
		st.Adopt = d.Adopt
		st.Reason += fmt.Sprintf("; takes over %d live object(s)", len(d.Adopt))
		st.liveAdopted = map[string]*unstructured.Unstructured{}
		for _, a := range d.Adopt {
			st.liveAdopted[a.Object] = reads[k].live.Owners[a.Object].Object
		}
		adopting = append(adopting, i)
	}
	if len(adopting) == 0 {
		return
	}
	// A second render as if later names what renders differently
	// every time (see noteNondeterminism).
	steps := make([]*Step, len(adopting))
	for k, i := range adopting {
		steps[k] = &plan.Steps[i]
	}
	for k, again := range p.rendersAgain(ctx, steps) {
		st := steps[k]
		if again == "" {
			continue
		}
		st.keepLive = takeover.KeptFields(nondeterministicPaths(st.rendered, again, st.Release.Namespace), st.liveAdopted)
		for k := range st.Adopt {
			for path := range st.keepLive[st.Adopt[k].Object] {
				st.Adopt[k].Kept = append(st.Adopt[k].Kept, path)
			}
			sort.Strings(st.Adopt[k].Kept)
		}
	}
}

// renderedObjects are the objects of a rendered manifest, named as digitops
// names them (renderedName); none when it does not split (the install
// reports that).
func renderedObjects(m, namespace string) []takeover.Rendered {
	objs, err := kube.Objects(m)
	if err != nil {
		return nil
	}
	out := make([]takeover.Rendered, len(objs))
	for i, o := range objs {
		out[i] = takeover.Rendered{Name: renderedName(o, namespace), Object: o}
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
		rel, err := kube.ReadRelease(ctx, p.Cluster, st.Release.Namespace, st.Release.Name, st.Live.Version)
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
	steps := make([]*Step, len(cands))
	for k, c := range cands {
		steps[k] = &plan.Steps[c.i]
	}
	for k, again := range p.rendersAgain(ctx, steps) {
		st, c := steps[k], cands[k]
		if again == "" {
			continue
		}
		// Both ways: an object only one side has differs too.
		diffs := append(nondeterministicPaths(c.stored, st.rendered, st.Release.Namespace),
			nondeterministicPaths(st.rendered, c.stored, st.Release.Namespace)...)
		if takeover.RendersAlike(diffs, nondeterministicPaths(st.rendered, again, st.Release.Namespace)) {
			st.observe(Observation{Status: StatusInstalledAlike, Reason: fmt.Sprintf("installed by another tool with this chart and these values: digitops records its labels on revision %d (no new revision)", st.Live.Version), Drift: st.Drift}, "")
		}
	}
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
		if st.Action != ActionInstall || st.rendered == "" || st.chart == nil || st.Release.TemplateName != "" || !takeover.UsesReleaseName(st.chart) {
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
			if lo, err := takeover.ReadOwner(ctx, p.Cluster, o, st.Release.Namespace, nil); err == nil && lo.Exists && lo.HelmRelease == "" {
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
