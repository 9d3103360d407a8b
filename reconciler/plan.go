package reconciler

import (
	"context"
	"fmt"
	"sort"
	"time"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/digitops/digitops/source/manifest"
)

// Plan is what a sync will do to an environment.
type Plan struct {
	// Environment is the environment's name.
	Environment string
	// Revision is the source revision the plan was made from.
	Revision string
	// Steps are in dependency order: a release after what it needs.
	Steps []Step
	// Notes are plan-wide remarks (e.g. a refused prune).
	Notes []string
	// APIRequests is the number of API requests drift detection made.
	APIRequests int
}

// Step is the decision for one release.
type Step struct {
	// Release is the desired release; for an uninstall only Name and
	// Namespace are set.
	Release manifest.ReleaseSpec
	// Action and Reason are the decision.
	Action Action
	Reason string
	// Live is the live release the decision was made against, or nil.
	Live *LiveRelease
	// Desired carries the digests.
	Desired Desired
	// Drift is what changed in the cluster since the release was deployed
	// (set when the release is otherwise unchanged and drift is not off).
	Drift []DriftItem

	chart *chart.Chart
	// rendered is the manifest the planner rendered for this step with
	// renderOptions (empty when it did not render it), reused for the
	// step's diff so that a plan renders each release once more at most.
	rendered string
	// applied is the manifest Helm rendered when the Applier installed or
	// upgraded the step's release.
	applied string
}

// Summary counts a plan's steps by action.
type Summary struct {
	Install   int `json:"install"`
	Upgrade   int `json:"upgrade"`
	Correct   int `json:"correct"`
	Unlock    int `json:"unlock"`
	Rollback  int `json:"rollback"`
	Uninstall int `json:"uninstall"`
	Skip      int `json:"skip"`
	Unchanged int `json:"unchanged"`
}

// Changes is the number of steps that change something.
func (s Summary) Changes() int {
	return s.Install + s.Upgrade + s.Correct + s.Unlock + s.Rollback + s.Uninstall
}

// Summary counts the plan's steps by action.
func (p *Plan) Summary() Summary {
	var s Summary
	for _, st := range p.Steps {
		switch st.Action {
		case ActionInstall:
			s.Install++
		case ActionUpgrade:
			s.Upgrade++
		case ActionCorrectDrift:
			s.Correct++
		case ActionUnlock:
			s.Unlock++
		case ActionRollback:
			s.Rollback++
		case ActionUninstall:
			s.Uninstall++
		case ActionSkip:
			s.Skip++
		default:
			s.Unchanged++
		}
	}
	return s
}

// Planner makes Plans.
type Planner struct {
	// Charts loads charts.
	Charts ChartSource
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Drift, when set, checks unchanged releases for drift; nil (offline
	// plans) does not look.
	Drift *DriftDetector
	// SkipRenderCheck turns off the plan's renders of changed releases
	// (and so the nondeterminism checks; diffs then render on demand).
	SkipRenderCheck bool
	// RenderTwice renders every install and upgrade a second time, in the
	// next wall-clock second, to name nondeterministic fields in the plan
	// (`digitops plan`: nothing else will render them). Without it, the
	// Applier compares what Helm renders when it acts with the plan's
	// render, at no cost, and notes the fields on the release's result.
	RenderTwice bool
	// Cluster reads live release values (image tags a release chart leaves
	// out); nil (offline plans) uses the chart default.
	Cluster *Cluster
}

// PlanOptions adjust one plan.
type PlanOptions struct {
	// Revision is the source revision, recorded in the plan.
	Revision string
	// ForcePrune lifts the prune guard (MaxPrunePercent).
	ForcePrune bool
}

// Plan decides what to do with every release of env against the live state.
// It reads charts but changes nothing.
func (p *Planner) Plan(ctx context.Context, env *manifest.Environment, live LiveState, opts PlanOptions) (*Plan, error) {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	plan := &Plan{Environment: env.Name, Revision: opts.Revision}
	wanted := make(map[string]bool, len(env.Releases))
	// Releases share subtrees of their values (a DIGIT environment file):
	// one digester encodes each shared subtree once per plan.
	digests := &ValuesDigester{}
	for _, spec := range env.Releases {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c, err := p.Charts.Load(ctx, spec.Chart)
		if err != nil {
			return nil, fmt.Errorf("release %q: %w", spec.Name, err)
		}
		desired := Desired{
			Name:        spec.Name,
			Namespace:   spec.Namespace,
			ChartDigest: ChartDigest(c),
		}
		key := spec.Namespace + "/" + spec.Name
		wanted[key] = true
		var lr *LiveRelease
		if l, ok := live[key]; ok {
			lr = &l
		}
		spec, note, err := keepLiveImageTag(ctx, p.Cluster, spec, lr)
		if err != nil {
			return nil, err
		}
		if note != "" {
			plan.Notes = append(plan.Notes, note)
		}
		desired.ValuesDigest = digests.Digest(spec.Values)
		st := DetermineReleaseState(StateInput{
			Environment:    env.Name,
			Desired:        desired,
			Live:           lr,
			Now:            now(),
			PendingTimeout: env.Policy.Timeout,
		})
		plan.Steps = append(plan.Steps, Step{Release: spec, Action: st.Action, Reason: st.Reason, Live: lr, Desired: desired, chart: c})
	}
	p.checkDriftAll(ctx, env, plan)
	rendered := p.renderChanged(ctx, plan)
	if p.RenderTwice {
		p.noteNondeterminism(ctx, plan, rendered)
	}
	// Only the actions that install or upgrade need the chart again: let
	// the others' go (at 500 releases that is most of a no-op's charts).
	for i := range plan.Steps {
		switch plan.Steps[i].Action {
		case ActionInstall, ActionUpgrade, ActionUnlock:
		default:
			plan.Steps[i].chart = nil
		}
	}
	prunes := pruneSteps(env, live, wanted)
	if len(prunes) > 0 {
		owned := len(prunes)
		for _, st := range plan.Steps {
			if st.Live != nil && st.Live.Environment == env.Name {
				owned++
			}
		}
		limit := owned * env.Policy.MaxPrunePercent / 100
		switch {
		case !env.Policy.Prune:
			plan.Notes = append(plan.Notes, fmt.Sprintf("%d release(s) owned by this environment are no longer in Git; prune is off", len(prunes)))
		case len(prunes) > limit && !opts.ForcePrune:
			return nil, fmt.Errorf("refusing to prune %d of %d releases (more than %d%%): pass --force-prune if this is intended", len(prunes), owned, env.Policy.MaxPrunePercent)
		default:
			plan.Steps = append(plan.Steps, prunes...)
		}
	}
	return plan, nil
}

// pruneSteps returns an uninstall step for every live release the
// environment owns that Git no longer has.
func pruneSteps(env *manifest.Environment, live LiveState, wanted map[string]bool) []Step {
	var keys []string
	for key, l := range live {
		if l.Environment == env.Name && !wanted[key] {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	steps := make([]Step, 0, len(keys))
	for _, key := range keys {
		l := live[key]
		steps = append(steps, Step{
			Release: manifest.ReleaseSpec{Name: l.Name, Namespace: l.Namespace},
			Action:  ActionUninstall,
			Reason:  "no longer in Git",
			Live:    &l,
		})
	}
	return steps
}
