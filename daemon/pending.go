package daemon

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/digitops/digitops/internal/diff"
	"github.com/digitops/digitops/internal/parallel"
	"github.com/digitops/digitops/internal/redact"
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
)

// What the console shows of an environment's last planned sync (issue
// #27): the changes it did not carry out, with their diffs as `digitops
// plan` prints them, and each release's order and takeovers.

const (
	// maxPendingDiff bounds one pending change's diff; a longer one is cut
	// (an install's is left out: a part of a whole render says little).
	maxPendingDiff = 64 << 10
	// maxPendingDiffs bounds the diffs one sync computes: the changes
	// after them have none.
	maxPendingDiffs = 50
	// diffWorkers is how many diffs are computed at once.
	diffWorkers = 4
)

// lastPlan is what the loop keeps of its last planned sync for the
// console.
type lastPlan struct {
	// pending are the changes the plan found and the sync did not carry
	// out, in plan order.
	pending []statusapi.PendingChange
	// releases are the plan's releases by name.
	releases map[string]plannedRelease
	// diffs are the pending changes' diffs by what they were computed
	// from, so that a change still pending at the next sync (a standby, a
	// suspended environment, a backoff) is not read and diffed again.
	diffs map[diffKey]string
}

// plannedRelease is one release of the last plan, for its detail.
type plannedRelease struct {
	needs, dependants, adopted, orphans []string
}

// diffKey is what a step's diff depends on: the release, its action, its
// desired chart and values, and the live revision it is compared with.
type diffKey struct {
	release, action, chart, values string
	live                           int
}

func keyOf(st *reconciler.Step) diffKey {
	k := diffKey{release: st.Release.Namespace + "/" + st.Release.Name, action: string(st.Action), chart: st.Desired.ChartDigest, values: st.Desired.ValuesDigest}
	if st.Live != nil {
		k.live = st.Live.LastDeployed
	}
	return k
}

// pendingSteps are the indexes of the plan's steps that change something
// and were not carried out: a write not applied or not succeeded (the sync
// failed, stood by, drained, or the environment is suspended), and the
// installs and upgrades held back by a backoff or blocked by a release in
// error. It is pure.
func pendingSteps(plan *reconciler.Plan, result *reconciler.Result) []int {
	done := map[string]bool{}
	if result != nil {
		for _, rr := range result.Releases {
			if rr.Outcome == reconciler.OutcomeSucceeded {
				done[rr.Namespace+"/"+rr.Name] = true
			}
		}
	}
	var out []int
	for i := range plan.Steps {
		st := &plan.Steps[i]
		switch {
		case st.Action.Writes() && !done[st.Release.Namespace+"/"+st.Release.Name],
			st.Status == reconciler.StatusHeldBack, st.Action == reconciler.ActionBlocked:
			out = append(out, i)
		}
	}
	return out
}

// newLastPlan is what the console keeps of a plan and its result: the
// pending changes with their diffs (from prev's when unchanged, else read
// from cluster) and each release's order and takeovers.
func newLastPlan(ctx context.Context, cluster *kube.Cluster, plan *reconciler.Plan, result *reconciler.Result, prev *lastPlan) *lastPlan {
	lp := &lastPlan{pending: []statusapi.PendingChange{}, releases: make(map[string]plannedRelease, len(plan.Steps)), diffs: map[diffKey]string{}}
	for i := range plan.Steps {
		st := &plan.Steps[i]
		pr := lp.releases[st.Release.Name]
		pr.needs = slices.Clone(st.Release.Needs)
		for _, a := range st.Adopt {
			pr.adopted = append(pr.adopted, a.String())
		}
		for _, o := range st.Orphans {
			pr.orphans = append(pr.orphans, o.String())
		}
		lp.releases[st.Release.Name] = pr
	}
	for i := range plan.Steps {
		st := &plan.Steps[i]
		for _, need := range st.Release.Needs {
			if d, ok := lp.releases[need]; ok {
				d.dependants = append(d.dependants, st.Release.Name)
				lp.releases[need] = d
			}
		}
	}
	idx := pendingSteps(plan, result)
	var todo []int // of idx: the diffs to compute
	for k, i := range idx {
		st := &plan.Steps[i]
		pc := statusapi.PendingChange{Release: st.Release.Name, Namespace: st.Release.Namespace, Action: statusapi.Action(st.Action), Reason: st.Reason}
		for _, in := range st.Inputs {
			pc.Inputs = append(pc.Inputs, in.String())
		}
		lp.pending = append(lp.pending, pc)
		if !diffable(st.Action) {
			continue
		}
		if d, ok := prev.diff(keyOf(st)); ok {
			lp.pending[k].Diff = d
			lp.diffs[keyOf(st)] = d
			continue
		}
		if len(todo) < maxPendingDiffs {
			todo = append(todo, k)
		}
	}
	diffs := make([]string, len(todo))
	parallel.ForEach(ctx, len(todo), diffWorkers, func(ctx context.Context, j int) {
		diffs[j] = stepDiff(ctx, cluster, plan.KubeVersion, &plan.Steps[idx[todo[j]]])
	})
	for j, k := range todo {
		if ctx.Err() != nil {
			break // cut short: not kept, computed again next time
		}
		lp.pending[k].Diff = diffs[j]
		lp.diffs[keyOf(&plan.Steps[idx[k]])] = diffs[j]
	}
	return lp
}

// diffable says whether a pending change gets a diff: the actions `digitops
// plan` diffs (a drift correction shows its drift items instead).
func diffable(a reconciler.Action) bool {
	return a == reconciler.ActionInstall || a == reconciler.ActionUpgrade || a == reconciler.ActionUninstall
}

// diff returns the diff prev computed for k.
func (lp *lastPlan) diff(k diffKey) (string, bool) {
	if lp == nil {
		return "", false
	}
	d, ok := lp.diffs[k]
	return d, ok
}

// stepDiff is a step's object diff as `digitops plan` prints it (no
// colour, no indent), secrets masked as the plan masks them, cut at
// maxPendingDiff; an install's over it is left out (""), and a diff that
// cannot be made says why.
func stepDiff(ctx context.Context, cluster *kube.Cluster, kubeVersion string, st *reconciler.Step) string {
	m, err := reconciler.RenderStep(ctx, cluster, kubeVersion, st)
	var objs []diff.Object
	if err == nil {
		objs, err = diff.Manifests(m.Old, m.New, diff.Options{Secrets: m.Secrets})
	}
	var b strings.Builder
	switch {
	case err != nil:
		fmt.Fprintf(&b, "(no diff: %s)\n", redact.Secrets(err.Error(), slices.Concat(st.Release.SecretValues, m.Secrets)))
	case len(objs) == 0:
		b.WriteString("(no change in rendered objects)\n")
	default:
		_ = diff.Write(&b, objs, diff.Style{})
	}
	out := b.String()
	if len(out) <= maxPendingDiff {
		return out
	}
	if st.Action == reconciler.ActionInstall {
		return ""
	}
	return cutDiff(out, maxPendingDiff)
}

// cutDiff cuts a diff longer than limit at the last line that fits, and
// says how much was left out.
func cutDiff(d string, limit int) string {
	cut := strings.LastIndexByte(d[:limit], '\n') + 1
	return d[:cut] + fmt.Sprintf("… (diff cut at %d KiB: %d more bytes)\n", limit>>10, len(d)-cut)
}
