package reconciler

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/digitops/digitops/internal/redact"
	"github.com/digitops/digitops/policy"
	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/reconciler/kube"
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
	// Warnings are the environment's load warnings (see manifest.Warning).
	Warnings []manifest.Warning
	// KubeVersion is the Kubernetes version offline renders assumed
	// (Planner.KubeVersion).
	KubeVersion string
	// InputsWithNoEffect are the values that changed in Git but moved no
	// object: they changed only in releases the plan records.
	InputsWithNoEffect []Input
	// Unpruned are the releases the environment owns that Git no longer
	// has and the plan leaves installed, because prune is off or releases
	// are in error (a note says which): the uninstall steps pruning would
	// have added, in the same order. They are not in Steps and nothing acts
	// on them; `digitops status` lists them.
	Unpruned []Step

	// policy is the operator's policy the plan was checked against
	// (PlanOptions.Policy); the Applier checks Helm's renders against it
	// too.
	policy *policy.Rules
}

// Errors returns the steps in error.
func (p *Plan) Errors() []Step {
	var out []Step
	for _, st := range p.Steps {
		if st.Action == ActionError {
			out = append(out, st)
		}
	}
	return out
}

// Step is the decision for one release.
type Step struct {
	// Release is the desired release; for an uninstall only Name and
	// Namespace are set.
	Release manifest.ReleaseSpec
	// Status is what was observed about the release; Action and Reason
	// are the decision (see Decide), Action blocked when a release it
	// needs is in error. Reason is masked (see internal/redact).
	Status Status
	Action Action
	Reason string
	// Live is the live release the decision was made against, or nil.
	Live *kube.LiveRelease
	// Desired carries the digests.
	Desired Desired
	// Drift is what changed in the cluster since the release was deployed
	// (set when the release is otherwise unchanged and drift is not off).
	Drift []drift.Item
	// DriftError is why drift could not be checked (masked; a plan note
	// says it too), empty when it was checked or not looked for.
	DriftError string
	// Adopt are the live objects an install takes over (see findTakeovers).
	Adopt []Adoption
	// Orphans are the live objects the release rendered once and renders
	// no more (see findOrphans and noteDeployerNames).
	Orphans []Orphan
	// Restarts are the workloads whose pods an upgrade replaces, and why
	// (see compareDeployed).
	Restarts []Restart
	// Inputs are the values of an upgrade that changed in Git, with the
	// file each comes from (see explainInputs).
	Inputs []Input
	// Lookups are where the release calls Helm's lookup (see LookupCalls):
	// Helm's install or upgrade reads live objects.
	Lookups []string
	// LiveReads are what the plan's render of the release read with those
	// lookups, as "resource namespace/name"; the values of the Secrets
	// among them are masked like the release's secret values.
	LiveReads []string
	// HandsOver are, for an uninstall, the objects that installs of the
	// same plan take over from the release (a release renamed with
	// sync.adopt: helm-releases): the uninstall waits for those installs
	// and leaves the objects in place (see handOver).
	HandsOver []HandOver

	chart *chart.Chart
	// liveAdopted are the live objects of Adopt, by name; keepLive the
	// fields of theirs the install keeps (keepLivePostRenderer).
	liveAdopted map[string]*unstructured.Unstructured
	keepLive    map[string]map[string]any
	// rendered is the manifest the planner rendered for this step with
	// renderOptions (empty when it did not render it), reused for the
	// step's diff so that a plan renders each release once more at most.
	rendered string
	// renderedHooks are that render's hooks, each with its "# Source:"
	// line (the manifest leaves them out), empty when it has none.
	renderedHooks string
	// again is a second render of the step, its clock shifted or in a
	// later second than rendered (see rendersAgain), empty when none was
	// made.
	again string
	// renderedAt is when the render in rendered ended (zero when not
	// known): a second render must start in a later second.
	renderedAt time.Time
	// varies caches Step.mayVary: 0 not known yet, 1 no, 2 yes.
	varies int8
	// stored is the deployed revision's storage Secret as the plan read
	// it (explainInputs), nil when it did not: a record rewrites it
	// unless it changed since.
	stored *kube.StoredRevision
	// orphansChecked is set when the plan looked for the release's
	// orphans and could (see findOrphans).
	orphansChecked bool
}

// Summary counts a plan's steps by action.
type Summary struct {
	Install int `json:"install"`
	Upgrade int `json:"upgrade"`
	// Record counts releases whose chart or values changed but render what
	// is deployed: their new digests are recorded, with no new revision.
	Record  int `json:"record"`
	Correct int `json:"correct"`
	Unlock  int `json:"unlock"`
	// DeleteOrphans counts unchanged releases whose adopted orphans prune
	// deletes (an upgrade deletes its own as part of the upgrade).
	DeleteOrphans int `json:"deleteOrphans"`
	Uninstall     int `json:"uninstall"`
	Skip          int `json:"skip"`
	Unchanged     int `json:"unchanged"`
	// Error counts releases that could not be loaded or rendered;
	// Blocked those that need one of them.
	Error   int `json:"error"`
	Blocked int `json:"blocked"`
}

// Changes is the number of steps that change something in the cluster.
func (s Summary) Changes() int {
	return s.Install + s.Upgrade + s.Correct + s.Unlock + s.DeleteOrphans + s.Uninstall
}

// Writes is the number of steps that write anything: the changes and the
// records.
func (s Summary) Writes() int { return s.Changes() + s.Record }

// Summary counts the plan's steps by action.
func (p *Plan) Summary() Summary {
	var s Summary
	for _, st := range p.Steps {
		switch st.Action {
		case ActionInstall:
			s.Install++
		case ActionUpgrade:
			s.Upgrade++
		case ActionRecord:
			s.Record++
		case ActionCorrectDrift:
			s.Correct++
		case ActionUnlock:
			s.Unlock++
		case ActionDeleteOrphans:
			s.DeleteOrphans++
		case ActionUninstall:
			s.Uninstall++
		case ActionSkip:
			s.Skip++
		case ActionError:
			s.Error++
		case ActionBlocked:
			s.Blocked++
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
	Drift *drift.Detector
	// RenderTwice renders every install and upgrade a second time, as if
	// later (rendersAgain), to name nondeterministic fields in the plan
	// (`digitops plan`: nothing else will render them). Without it, the
	// Applier compares what Helm renders when it acts with the plan's
	// render, at no cost, and notes the fields on the release's result.
	RenderTwice bool
	// Cluster reads live release values (image tags a release chart leaves
	// out); nil (offline plans) uses the chart default.
	Cluster *kube.Cluster
	// KubeVersion is the Kubernetes version offline renders assume (see
	// RenderOptions.KubeVersion); with a kube.Cluster, the cluster's is used.
	KubeVersion string
}

// PlanOptions adjust one plan.
type PlanOptions struct {
	// Revision is the source revision, recorded in the plan.
	Revision string
	// ForcePrune lifts the prune guard (MaxPrunePercent).
	ForcePrune bool
	// Select, when set, keeps only the releases it matches (the CLI's
	// --release and --selector): the others get no step, and nothing is
	// loaded, read, rendered or checked for drift for them. A release that
	// is not selected still counts as wanted (never pruned), and one that
	// failed to load still blocks the selected releases that need it.
	Select func(manifest.ReleaseSpec) bool
	// Suspended releases are skipped with status suspended, before their
	// chart is loaded or anything is read for them.
	Suspended map[string]bool
	// Policy, when set, is the operator's policy for the environment (see
	// package policy): a release outside it is an error step naming the
	// object and the rule, and nothing of it is applied. nil allows
	// everything.
	Policy *policy.Rules
	// HeldBack, when set, says why a release that would be installed or
	// upgraded to desired waits (its last attempts with this chart and
	// values failed and the next is not due), or "" when it does not; a
	// held-back release is skipped and not rendered.
	HeldBack func(name string, desired Desired) string
}

// selected reports whether opts keep spec.
func (o PlanOptions) selected(spec manifest.ReleaseSpec) bool {
	return o.Select == nil || o.Select(spec)
}

// Plan decides what to do with every selected release of env against the
// live state: it observes each release (live Helm release, then drift for
// those in sync), maps what it saw to an action with [Decide], renders what
// will change, and adds the prune steps. It reads charts but changes
// nothing, and the plan it returns is not changed afterwards: applying it
// returns results, it does not write into it.
func (p *Planner) Plan(ctx context.Context, env *manifest.Environment, live kube.LiveState, opts PlanOptions) (*Plan, error) {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	plan := &Plan{Environment: env.Name, Revision: opts.Revision, Warnings: env.Warnings, KubeVersion: p.KubeVersion, policy: opts.Policy}
	wanted := make(map[string]bool, len(env.Releases))
	// invalidElsewhere are the releases left out by Select that failed to
	// load, or need one that did: what needs them is blocked all the same.
	invalidElsewhere := map[string]bool{}
	// Releases share subtrees of their values (a DIGIT environment file):
	// one digester encodes each shared subtree once per plan.
	digests := &ValuesDigester{}
	for _, spec := range env.Releases {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		key := spec.Namespace + "/" + spec.Name
		wanted[key] = true
		if !opts.selected(spec) {
			// Releases come in dependency order: a need is seen first.
			if spec.Err != nil || slices.ContainsFunc(spec.Needs, func(n string) bool { return invalidElsewhere[n] }) {
				invalidElsewhere[spec.Name] = true
			}
			continue
		}
		var lr *kube.LiveRelease
		if l, ok := live[key]; ok {
			lr = &l
		}
		if opts.Suspended[spec.Name] {
			plan.Steps = append(plan.Steps, newStep(Step{Release: spec, Live: lr}, Observation{Status: StatusSuspended, Reason: "suspended"}, env.Policy.Drift))
			continue
		}
		if spec.Err != nil {
			plan.Steps = append(plan.Steps, errorStep(spec, lr, spec.Err))
			continue
		}
		if err := opts.Policy.Namespace(spec.Namespace); err != nil {
			plan.Steps = append(plan.Steps, errorStep(spec, lr, fmt.Errorf("release %q: %w", spec.Name, err)))
			continue
		}
		c, err := p.Charts.Load(ctx, spec.Chart)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			plan.Steps = append(plan.Steps, errorStep(spec, lr, fmt.Errorf("chart %s: %w", chartName(env, spec), err)))
			continue
		}
		desired := Desired{
			Name:        spec.Name,
			Namespace:   spec.Namespace,
			ChartDigest: chartDigestAs(c, spec),
		}
		spec, note, err := keepLiveImageTag(ctx, p.Cluster, spec, lr)
		if err != nil {
			return nil, err
		}
		if note != "" {
			plan.Notes = append(plan.Notes, note)
		}
		desired.ValuesDigest = digests.Digest(spec.MergedValues())
		obs := ObserveRelease(StateInput{
			Environment:    env.Name,
			Desired:        desired,
			Live:           lr,
			Now:            now(),
			PendingTimeout: env.Policy.Timeout,
		})
		st := newStep(Step{Release: spec, Live: lr, Desired: desired, chart: c}, obs, env.Policy.Drift)
		if !st.Action.needsChart() {
			// In sync (drift needs no chart): let it go now, not at the end
			// of the plan (at 500 releases, most of a no-op's heap).
			st.chart = nil
		}
		plan.Steps = append(plan.Steps, st)
	}
	if opts.Select != nil {
		noteNeedsLeftOut(env, plan)
	}
	p.checkDriftAll(ctx, env, plan)
	holdBack(plan, opts.HeldBack, env.Policy.Drift)
	p.noteLookups(plan)
	renderedFrom := time.Now()
	rendered := p.renderChanged(ctx, plan)
	if len(rendered) > 0 {
		objects := p.renderedObjects(ctx, plan, rendered)
		p.checkAPIVersions(ctx, plan, objects)
		p.enforcePolicy(plan, objects)
		rendered = withoutErrors(plan, rendered)
	}
	p.compareDeployed(ctx, plan, rendered, renderedFrom)
	p.explainInputs(ctx, plan)
	p.findTakeovers(ctx, env, live, plan, rendered)
	p.findRelabels(ctx, plan, rendered)
	p.noteDeployerNames(ctx, plan, rendered)
	p.findOrphans(ctx, env, plan)
	if p.RenderTwice {
		p.noteNondeterminism(ctx, plan, rendered)
	}
	blockDependants(plan, invalidElsewhere)
	// Only the actions that install or upgrade need the chart again: let
	// the others' go (at 500 releases that is most of a no-op's charts).
	for i := range plan.Steps {
		if !plan.Steps[i].Action.needsChart() {
			plan.Steps[i].chart = nil
		}
	}
	prunes := pruneSteps(env, live, wanted, opts)
	if errs := len(plan.Errors()) + len(invalidElsewhere); errs > 0 && len(prunes) > 0 {
		plan.Notes = append(plan.Notes, fmt.Sprintf("%d release(s) owned by this environment are no longer in Git; nothing is pruned while %d release(s) are in error", len(prunes), errs))
		plan.Unpruned, prunes = prunes, nil
	}
	if len(prunes) > 0 {
		// The share is of every release the environment owns, not of the
		// ones a selection planned.
		owned := 0
		for _, l := range live {
			if l.Environment == env.Name {
				owned++
			}
		}
		limit := owned * env.Policy.MaxPrunePercent / 100
		switch {
		case !env.Policy.Prune:
			plan.Notes = append(plan.Notes, fmt.Sprintf("%d release(s) owned by this environment are no longer in Git; prune is off", len(prunes)))
			plan.Unpruned = prunes
		case countChanges(prunes) > limit && !opts.ForcePrune:
			return nil, fmt.Errorf("refusing to prune %d of %d releases (more than %d%%): pass --force-prune if this is intended", countChanges(prunes), owned, env.Policy.MaxPrunePercent)
		default:
			plan.Steps = append(plan.Steps, prunes...)
			handOver(plan)
		}
	}
	return plan, nil
}

// HandOver is one object an uninstall leaves to the install that takes it.
type HandOver struct {
	// Object is "Kind/namespace/name" ("Kind/name" when cluster-scoped).
	Object string `json:"object"`
	// To is the release whose install takes it.
	To string `json:"to"`
}

// handOver gives every uninstall whose objects an install of the plan
// takes over (a release renamed, with sync.adopt: helm-releases) the list
// of those objects: the uninstall then runs after the installs that take
// them, only when they succeed, and leaves the objects in place, so that
// an object is never deleted and created again (a new UID: pods replaced,
// a volume's data lost).
func handOver(plan *Plan) {
	taken := map[string][]HandOver{}
	for _, st := range plan.Steps {
		if st.Action != ActionInstall {
			continue
		}
		for _, a := range st.Adopt {
			if a.FromRelease != "" {
				taken[a.FromRelease] = append(taken[a.FromRelease], HandOver{Object: a.Object, To: st.Release.Name})
			}
		}
	}
	for i := range plan.Steps {
		st := &plan.Steps[i]
		if st.Action != ActionUninstall {
			continue
		}
		h := taken[st.Release.Namespace+"/"+st.Release.Name]
		if len(h) == 0 {
			continue
		}
		st.HandsOver = h
		st.Reason += fmt.Sprintf("; leaves %d object(s) to %s, after it installs", len(h), strings.Join(st.handedTo(), ", "))
	}
}

// handedTo are the releases whose installs an uninstall waits for.
func (st *Step) handedTo() []string {
	var to []string
	for _, h := range st.HandsOver {
		if !slices.Contains(to, h.To) {
			to = append(to, h.To)
		}
	}
	return to
}

// noteNeedsLeftOut notes the releases the selected ones need that the
// selection leaves out: nothing was rendered or checked for them.
func noteNeedsLeftOut(env *manifest.Environment, plan *Plan) {
	inPlan := make(map[string]bool, len(plan.Steps))
	for _, st := range plan.Steps {
		inPlan[st.Release.Name] = true
	}
	inEnv := make(map[string]bool, len(env.Releases))
	for _, r := range env.Releases {
		inEnv[r.Name] = true
	}
	var out []string
	for _, st := range plan.Steps {
		for _, n := range st.Release.Needs {
			if inEnv[n] && !inPlan[n] && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	if len(out) > 0 {
		plan.Notes = append(plan.Notes, fmt.Sprintf("not selected, so not rendered or checked, but needed by the releases selected: %s (--include-needs adds them)", strings.Join(out, ", ")))
	}
}

// newStep is st with what was observed about it and the decision.
func newStep(st Step, o Observation, mode manifest.DriftMode) Step {
	st.observe(o, mode)
	return st
}

// observe records what was observed about the step and decides from it.
// The reason is masked here, once: whoever prints a step prints it as is.
func (st *Step) observe(o Observation, mode manifest.DriftMode) {
	st.Status, st.Drift = o.Status, o.Drift
	d := Decide(o, mode)
	st.Action, st.Reason = d.Action, redact.Secrets(d.Reason, st.Release.SecretValues)
	if d.Action == ActionError || d.Action == ActionBlocked {
		st.chart, st.rendered = nil, ""
	}
}

// holdBack turns each install or upgrade that heldBack says waits into a
// held-back skip, before anything renders it.
func holdBack(plan *Plan, heldBack func(string, Desired) string, mode manifest.DriftMode) {
	if heldBack == nil {
		return
	}
	for i := range plan.Steps {
		st := &plan.Steps[i]
		if st.Action != ActionInstall && st.Action != ActionUpgrade {
			continue
		}
		if why := heldBack(st.Release.Name, st.Desired); why != "" {
			st.observe(Observation{Status: StatusHeldBack, Reason: why}, mode)
		}
	}
}

// countChanges counts the steps that change something.
func countChanges(steps []Step) int {
	n := 0
	for _, st := range steps {
		if st.Action.Changes() {
			n++
		}
	}
	return n
}

// pruneSteps returns an uninstall step for every live release the
// environment owns that Git no longer has and opts select (suspended ones
// are skipped).
func pruneSteps(env *manifest.Environment, live kube.LiveState, wanted map[string]bool, opts PlanOptions) []Step {
	var keys []string
	for key, l := range live {
		if l.Environment == env.Name && !wanted[key] && opts.selected(manifest.ReleaseSpec{Name: l.Name, Namespace: l.Namespace}) {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	steps := make([]Step, 0, len(keys))
	for _, key := range keys {
		l := live[key]
		o := Observation{Status: StatusRemoved, Reason: "no longer in Git"}
		if opts.Suspended[l.Name] {
			o = Observation{Status: StatusSuspended, Reason: "suspended"}
		}
		steps = append(steps, newStep(Step{Release: manifest.ReleaseSpec{Name: l.Name, Namespace: l.Namespace}, Live: &l}, o, env.Policy.Drift))
	}
	return steps
}

// errorStep is the step of a release that cannot be planned: err says why.
func errorStep(spec manifest.ReleaseSpec, live *kube.LiveRelease, err error) Step {
	return newStep(Step{Release: spec, Live: live}, Observation{Status: StatusInvalid, Reason: err.Error()}, "")
}

// chartName is a step's chart as the user wrote it: relative to the
// repository for a local chart.
func chartName(env *manifest.Environment, spec manifest.ReleaseSpec) string {
	if spec.Chart.Path != "" && env.RepoDir != "" {
		if r, err := filepath.Rel(env.RepoDir, spec.Chart.Path); err == nil && !strings.HasPrefix(r, "..") {
			return filepath.ToSlash(r)
		}
	}
	return spec.Chart.String()
}

// blockDependants turns every step that would change something but needs a
// release in error (in the plan, or left out of it and invalid), or a
// release blocked itself, into a blocked step whose reason names that
// release. Steps are in dependency order, so one pass sees every need
// before its dependants.
func blockDependants(plan *Plan, invalidElsewhere map[string]bool) {
	stuck := map[string]Action{}
	for name := range invalidElsewhere {
		stuck[name] = ActionError
	}
	for i := range plan.Steps {
		st := &plan.Steps[i]
		if st.Action == ActionError {
			stuck[st.Release.Name] = ActionError
			continue
		}
		for _, need := range st.Release.Needs {
			why, ok := stuck[need]
			if !ok {
				continue
			}
			if !st.Action.Changes() {
				break
			}
			state := "is in error"
			if why == ActionBlocked {
				state = "is blocked"
			}
			st.observe(Observation{Status: StatusBlocked, Reason: fmt.Sprintf("needs %q, which %s (would %s: %s)", need, state, st.Action, st.Reason), Drift: st.Drift}, "")
			stuck[st.Release.Name] = ActionBlocked
			break
		}
	}
}
