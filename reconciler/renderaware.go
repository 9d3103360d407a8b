package reconciler

import (
	"context"
	"strings"

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
//   - fields that render differently on every run (DIGIT's
//     deployment-timestamp: found by rendering once more, in the next
//     second) keep their deployed value, and a list that differs only in
//     order keeps the deployed order;
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
func (p *Planner) compareDeployed(ctx context.Context, plan *Plan, idx []int) {
	if p.Cluster == nil {
		return
	}
	var cands []int
	for _, i := range idx {
		st := &plan.Steps[i]
		if st.Action == ActionUpgrade && st.Status == StatusOutOfSync && st.rendered != "" && st.Live != nil &&
			st.Live.LastDeployed > 0 && st.Live.LastDeployed == st.Live.Version {
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		return
	}
	apis := helmEnv{cluster: p.Cluster}.apiVersions()
	if p.Drift != nil {
		lives := make([]*kube.LiveRelease, len(cands))
		for k, i := range cands {
			lives[k] = plan.Steps[i].Live
		}
		p.Drift.Prefetch(ctx, lives)
	}
	renders := make([]*releaseRender, len(cands))
	keepable := make([]bool, len(cands))
	diffs := make([]map[string][]string, len(cands))
	parallel.ForEach(ctx, len(cands), 0, func(ctx context.Context, k int) {
		st := &plan.Steps[cands[k]]
		deployed, err := p.deployedObjects(ctx, st)
		if err != nil {
			return
		}
		rendered, err := kube.Objects(st.rendered)
		if err != nil {
			return
		}
		renders[k] = newReleaseRender(st.Release.Namespace, deployed, rendered)
		keepable[k] = plannedChart(st, apis) != nil
		diffs[k] = renders[k].differences()
	})
	// Render again, in the next second, what differs from its deployed
	// revision: what differs between the two renders is volatile.
	var probe []int
	for k, r := range renders {
		if r != nil && keepable[k] && len(diffs[k]) > 0 {
			probe = append(probe, k)
		}
	}
	if len(probe) > 0 && waitNextSecond(ctx) {
		parallel.ForEach(ctx, len(probe), 0, func(ctx context.Context, n int) {
			k := probe[n]
			st := &plan.Steps[cands[k]]
			again, err := Render(ctx, st.Release, st.chart, renderOptions(p.Cluster, p.KubeVersion, st))
			if err != nil {
				return
			}
			st.again = again
			renders[k].volatile = volatilePaths(st.rendered, again, st.Release.Namespace)
		})
	}
	if ctx.Err() != nil {
		return
	}
	changed := map[string]configChange{}
	for k, r := range renders {
		if r == nil {
			continue
		}
		for name, c := range r.configChanges(diffs[k]) {
			changed[name] = c
		}
	}
	for k, r := range renders {
		if r == nil || !keepable[k] {
			continue
		}
		st := &plan.Steps[cands[k]]
		v := r.decide(diffs[k], changed)
		if v.unchanged {
			st.observe(Observation{Status: StatusRenderUnchanged, Reason: st.Reason + ", render unchanged (no upgrade)"}, "")
			st.rendered, st.again = "", ""
			continue
		}
		st.Restarts = v.restarts
		if len(v.kept) > 0 || len(diffs[k]) > 0 {
			st.rendered = r.manifest(st.rendered)
		}
	}
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
