package reconciler

import (
	"context"
	"github.com/digitops/digitops/reconciler/drift"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/digitops/digitops/internal/parallel"
	"github.com/digitops/digitops/reconciler/kube"
)

// compareDeployed makes the plan's upgrades render-aware. An upgrade of a
// deployed release whose chart or values changed in Git (a DIGIT
// environment file hands every release the whole file, so one edited key
// changes them all) is compared with the manifest its deployed revision
// holds:
//
//   - fields that render differently on every run keep their deployed
//     value (a field whose new value is the time of the render, DIGIT's
//     deployment-timestamp, is one; any other difference is checked by
//     rendering once more, as if later: rendersAgain), and a list that differs
//     only in order keeps the deployed order;
//   - except in the pod template of a workload that restarts anyway (its
//     pod template changed) or reads a ConfigMap or Secret that changes in
//     any release of the plan: there the fresh value goes through, and the
//     step lists the restart and why;
//   - a release left with no difference is not upgraded: it is recorded
//     (StatusRenderUnchanged, ActionRecord); the others install the render
//     with the kept values (Helm runs it as is, see plannedChart).
//
// A release whose render Helm would make again when it acts (lookup,
// hooks, .Release.Revision: plannedChart is nil) is upgraded as before;
// its ConfigMaps and Secrets still count for the others' restarts. idx are
// the rendered steps. Offline plans (no cluster) compare nothing.
func (p *Planner) compareDeployed(ctx context.Context, plan *Plan, idx []int, renderedFrom time.Time) {
	if p.Cluster == nil {
		return
	}
	var cands []*comparison
	for _, i := range idx {
		st := &plan.Steps[i]
		if st.Action == ActionUpgrade && st.Status == StatusOutOfSync && st.rendered != "" && deployedIsLast(st) {
			cands = append(cands, &comparison{st: st})
		}
	}
	if len(cands) == 0 {
		return
	}
	p.prefetchDeployed(ctx, cands)
	p.compareEach(ctx, cands)
	// The releases Git leaves unchanged whose workloads read a ConfigMap
	// or Secret that changes: rendered now, to restart them.
	if changed := configChangesOf(cands); len(changed) > 0 {
		consumers := p.consumersOf(ctx, plan, changed)
		p.prefetchDeployed(ctx, consumers)
		p.compareEach(ctx, consumers)
		cands = append(cands, consumers...)
	}
	// What differs from its deployed revision only by stamps of the
	// render's clock (DIGIT's deployment-timestamp) needs no second
	// render; the rest is rendered again, as if later (rendersAgain): what
	// differs between the two renders is volatile. A chart that cannot
	// render differently (Step.mayVary) has nothing volatile.
	renderedTo := time.Now().Add(time.Second)
	renderedFrom = renderedFrom.Add(-time.Second)
	var probe []*comparison
	for _, c := range cands {
		if c.render == nil || !c.keepable || len(c.diffs) == 0 || !c.st.mayVary() {
			continue
		}
		if stamps, ok := c.render.renderTimes(c.diffs, renderedFrom, renderedTo); ok {
			c.render.volatile = stamps
			continue
		}
		probe = append(probe, c)
	}
	steps := make([]*Step, len(probe))
	for n, c := range probe {
		steps[n] = c.st
	}
	for n, again := range p.rendersAgain(ctx, steps) {
		if c := probe[n]; again != "" {
			c.st.again = again
			c.render.volatile = volatilePaths(c.st.rendered, again, c.st.Release.Namespace)
		}
	}
	if ctx.Err() != nil {
		return
	}
	changed := configChangesOf(cands)
	for _, c := range cands {
		if c.render == nil || !c.keepable {
			continue
		}
		st := c.st
		v := c.render.decide(c.diffs, changed)
		switch {
		case c.consumer && len(v.restarts) == 0:
			// What it reads did not change after all: in sync.
			st.chart, st.rendered, st.again = nil, "", ""
			continue
		case c.consumer:
			st.observe(Observation{Status: StatusConfigChanged, Reason: "a ConfigMap or Secret its workloads read changed"}, "")
		case v.unchanged:
			st.observe(Observation{Status: StatusRenderUnchanged, Reason: st.Reason + ", render unchanged (no upgrade)"}, "")
			st.rendered, st.again = "", ""
			continue
		}
		st.Restarts = v.restarts
		st.rendered = c.render.manifest(st.rendered)
	}
}

// comparison is one release compareDeployed compares with its deployed
// revision.
type comparison struct {
	st *Step
	// consumer is set for a release Git leaves unchanged, compared because
	// it reads configuration another release changes.
	consumer bool
	render   *releaseRender
	diffs    map[string][]string
	// keepable: Helm installs the plan's render as is (plannedChart), so
	// kept values reach the cluster.
	keepable bool
}

// deployedIsLast reports whether the step's newest revision is deployed.
func deployedIsLast(st *Step) bool {
	return st.Live != nil && st.Live.LastDeployed > 0 && st.Live.LastDeployed == st.Live.Version
}

// prefetchDeployed reads the deployed manifests of cs in as few requests
// as the drift detector can (its copy serves compareEach).
func (p *Planner) prefetchDeployed(ctx context.Context, cs []*comparison) {
	if p.Drift == nil || len(cs) == 0 {
		return
	}
	lives := make([]*kube.LiveRelease, len(cs))
	for k, c := range cs {
		lives[k] = c.st.Live
	}
	p.Drift.Prefetch(ctx, lives)
}

// compareEach parses each comparison's deployed and rendered objects and
// finds their differences, in parallel.
func (p *Planner) compareEach(ctx context.Context, cs []*comparison) {
	parallel.ForEach(ctx, len(cs), 0, func(ctx context.Context, k int) {
		c := cs[k]
		deployed, err := p.deployedObjects(ctx, c.st)
		if err != nil {
			return
		}
		rendered, err := kube.Objects(c.st.rendered)
		if err != nil {
			return
		}
		c.render = newReleaseRender(c.st.Release.Namespace, deployed, rendered)
		c.keepable = runsPlanned(c.st)
		c.diffs = c.render.differences()
	})
}

// configChangesOf are the ConfigMaps and Secrets the comparisons change.
func configChangesOf(cs []*comparison) map[string]configChange {
	out := map[string]configChange{}
	for _, c := range cs {
		if c.render == nil {
			continue
		}
		for name, ch := range c.render.configChanges(c.diffs) {
			out[name] = ch
		}
	}
	return out
}

// consumersOf finds the in-sync releases of the plan with a deployed
// workload that reads a ConfigMap or Secret in changed, and renders them
// (their chart loaded again: the plan let it go).
func (p *Planner) consumersOf(ctx context.Context, plan *Plan, changed map[string]configChange) []*comparison {
	var found []*comparison
	for i := range plan.Steps {
		st := &plan.Steps[i]
		if st.Action == ActionNone && st.Status == StatusInSync && deployedIsLast(st) && st.Live.Environment == plan.Environment {
			found = append(found, &comparison{st: st, consumer: true})
		}
	}
	p.prefetchDeployed(ctx, found)
	reads := make([]bool, len(found))
	parallel.ForEach(ctx, len(found), 0, func(ctx context.Context, k int) {
		st := found[k].st
		deployed, err := p.deployedObjects(ctx, st)
		if err != nil {
			return
		}
		if !readsAny(deployed, st.Release.Namespace, changed) {
			return
		}
		c, err := p.Charts.Load(ctx, st.Release.Chart)
		if err != nil {
			return
		}
		m, hooks, err := renderRelease(ctx, st.Release, c, renderOptions(p.Cluster, p.KubeVersion, st))
		if err != nil {
			return
		}
		st.chart, st.rendered, st.renderedHooks, st.renderedAt = c, m, hooks, time.Now()
		reads[k] = true
	})
	out := found[:0]
	for k, c := range found {
		if reads[k] {
			out = append(out, c)
		}
	}
	return out
}

// readsAny reports whether a workload among objs reads a ConfigMap or
// Secret in changed.
func readsAny(objs []*unstructured.Unstructured, namespace string, changed map[string]configChange) bool {
	for _, o := range objs {
		tpl := podTemplatePath(o)
		if tpl == "" {
			continue
		}
		pod, _ := drift.PointerGet(o.Object, tpl)
		podMap, _ := pod.(map[string]any)
		ns := o.GetNamespace()
		if ns == "" {
			ns = namespace
		}
		for _, read := range readsConfigs(podMap, ns) {
			ref, key, _ := strings.Cut(read, "#")
			if c, ok := changed[ref]; ok && c.touches(key) {
				return true
			}
		}
	}
	return false
}

// deployedObjects are the objects of the manifest the step's deployed
// revision holds (the drift detector's copy when it has one).
func (p *Planner) deployedObjects(ctx context.Context, st *Step) ([]*unstructured.Unstructured, error) {
	if p.Drift != nil {
		js, err := p.Drift.DeployedObjects(ctx, st.Release.Namespace, st.Release.Name, st.Live.Version)
		if err != nil {
			return nil, err
		}
		out := make([]*unstructured.Unstructured, 0, len(js))
		for _, b := range js {
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(b); err != nil {
				return nil, err
			}
			out = append(out, u)
		}
		return out, nil
	}
	m, err := kube.ReadStoredManifest(ctx, p.Cluster.Clientset.CoreV1().Secrets(st.Release.Namespace), st.Release.Name, st.Live.Version)
	if err != nil {
		return nil, err
	}
	return kube.Objects(m)
}

// volatilePaths are, by object, the JSON pointers where two renders of a
// release differ.
func volatilePaths(a, b, namespace string) map[string][]string {
	out := map[string][]string{}
	for _, np := range nondeterministicPaths(a, b, namespace) {
		name, path, ok := strings.Cut(np, " ")
		if !ok {
			continue // an object only one render has: its name is random
		}
		out[name] = append(out[name], path)
	}
	return out
}
