package reconciler

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/digitops/digitops/internal/parallel"
	"github.com/digitops/digitops/internal/redact"
	"github.com/digitops/digitops/policy"
	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// maxNondeterministicPaths bounds the fields a note names.
const maxNondeterministicPaths = 3

// renderChanged renders every release the plan installs or upgrades, in
// parallel, and keeps the render on the step: for its diff, and to compare
// with what Helm renders when it acts (appliedRenderNote). Unchanged
// releases are not rendered. It returns the indexes of the rendered steps.
func (p *Planner) renderChanged(ctx context.Context, plan *Plan) []int {
	var idx []int
	for i, st := range plan.Steps {
		if (st.Action == ActionInstall || st.Action == ActionUpgrade) && st.chart != nil {
			idx = append(idx, i)
		}
	}
	parallel.ForEach(ctx, len(idx), 0, func(ctx context.Context, k int) {
		st := &plan.Steps[idx[k]]
		opts := renderOptions(p.Cluster, p.KubeVersion, st)
		if len(st.Lookups) > 0 {
			opts.Reads = &LiveReads{}
		}
		m, hooks, err := renderRelease(ctx, st.Release, st.chart, opts)
		if opts.Reads != nil {
			st.readLive(opts.Reads)
		}
		if err != nil {
			if ctx.Err() == nil {
				// A chart that does not render is an error of its
				// release, never a change.
				st.observe(Observation{Status: StatusInvalid, Reason: err.Error() + untaggedHint(st.Release, err)}, "")
			}
			return
		}
		st.rendered, st.renderedHooks, st.renderedAt = m, hooks, time.Now()
	})
	return withoutErrors(plan, idx)
}

// withoutErrors are the steps of idx that are not in error.
func withoutErrors(plan *Plan, idx []int) []int {
	kept := idx[:0]
	for _, i := range idx {
		if plan.Steps[i].Action != ActionError {
			kept = append(kept, i)
		}
	}
	return kept
}

// noteNondeterminism renders the steps renderChanged rendered (idx) once
// more, as if later (rendersAgain), and a release whose output differs
// between the renders (a `now`, a random string) gets a note naming the
// fields. Such a release is still decided from the digests of its chart and
// values, never from its render, so it is not upgraded on every sync; the
// note says why its objects change on each upgrade. A release whose chart
// cannot render differently (Step.mayVary) is not rendered again.
func (p *Planner) noteNondeterminism(ctx context.Context, plan *Plan, idx []int) {
	var (
		steps []*Step
		at    []int // steps[k] is plan.Steps[idx[at[k]]]
	)
	notes := make([]string, len(idx))
	for k, i := range idx {
		st := &plan.Steps[i]
		switch {
		case st.rendered == "":
		case st.again != "": // compareDeployed rendered it twice
			notes[k] = nondeterminismNote(st.Release, st.rendered, st.again)
		default:
			steps, at = append(steps, st), append(at, k)
		}
	}
	for n, again := range p.rendersAgain(ctx, steps) {
		if again != "" {
			notes[at[n]] = nondeterminismNote(steps[n].Release, steps[n].rendered, again)
		}
	}
	for _, n := range notes {
		if n != "" {
			plan.Notes = append(plan.Notes, n)
		}
	}
}

// rendersAgain renders each of steps once more, as if later, in parallel,
// for what differs between two renders. A step whose chart reads the
// clock only where clockShifted can move it is rendered at once, its
// clock shifted; the others are rendered in a wall-clock second after the
// one their first render ended in. A step whose chart cannot render
// differently (Step.mayVary) gets its first render back, and when none
// needs the wall clock, nothing waits. A render that fails, or that ctx
// ends, is "".
func (p *Planner) rendersAgain(ctx context.Context, steps []*Step) []string {
	out := make([]string, len(steps))
	charts := make([]*chart.Chart, len(steps))
	var shifted, later []int
	for k, st := range steps {
		if !st.mayVary() {
			out[k] = st.rendered
			continue
		}
		if c, ok := clockShifted(st.chart, st.Release.MergedValues()); ok {
			charts[k], shifted = c, append(shifted, k)
		} else {
			charts[k], later = st.chart, append(later, k)
		}
	}
	render := func(ks []int) {
		parallel.ForEach(ctx, len(ks), 0, func(ctx context.Context, n int) {
			st := steps[ks[n]]
			if m, err := Render(ctx, st.Release, charts[ks[n]], renderOptions(p.Cluster, p.KubeVersion, st)); err == nil {
				out[ks[n]] = m
			}
		})
	}
	render(shifted)
	for _, k := range shifted {
		// A shifted copy that does not render as the chart did: the
		// chart itself, later.
		if out[k] == "" && ctx.Err() == nil {
			charts[k], later = steps[k].chart, append(later, k)
		}
	}
	if len(later) == 0 {
		return out
	}
	// The second render must be in a later second than the first ended:
	// the time the plan spent since then counts.
	var last time.Time
	for _, k := range later {
		if at := steps[k].renderedAt; at.IsZero() {
			last = time.Now() // not known: from now
			break
		} else if at.After(last) {
			last = at
		}
	}
	if waitSecondAfter(ctx, last) {
		render(later)
	}
	return out
}

// mayVary reports whether two renders of the step's release can differ
// (rendersMayVary of its chart and values), worked out once.
func (st *Step) mayVary() bool {
	if st.varies == 0 {
		st.varies = 1
		if rendersMayVary(st.chart, st.Release.MergedValues()) {
			st.varies = 2
		}
	}
	return st.varies == 2
}

// variableFuncs are the template functions whose result can differ
// between two renders of the same chart with the same values: the clock
// (sprig's now, and its date functions, which take the time now when not
// given one: DIGIT's deployment-timestamp is `date "…" .Release.Time`,
// and .Release.Time is nil in Helm 3), randomness, generated keys and
// certificates, salted hashes and ciphers, DNS and live reads.
func variableFuncs() funcs {
	return funcs{
		"now", "ago", "date", "dateInZone", "date_in_zone", "htmlDate", "htmlDateInZone",
		"dateModify", "date_modify", "mustDateModify", "must_date_modify", "durationRound", "unixEpoch",
		"randAlphaNum", "randAlpha", "randAscii", "randNumeric", "randInt", "randBytes", "uuidv4", "shuffle",
		"genPrivateKey", "genCA", "genCAWithKey", "genSelfSignedCert", "genSelfSignedCertWithKey",
		"genSignedCert", "genSignedCertWithKey", "bcrypt", "htpasswd", "encryptAES",
		"getHostByName", "lookup",
	}
}

// rendersMayVary reports whether two renders of c with values can differ:
// a template of c or of a subchart calls one of variableFuncs, a value
// that is a template (rendered with tpl), given or a chart's default,
// calls one, or c calls tpl and one of its files names one (read with
// .Files.Get, rendered with tpl). When it is false one render says all,
// and no second render is needed.
func rendersMayVary(c *chart.Chart, values map[string]any) bool {
	fs := variableFuncs()
	if chartCalls(c, "", fs, true) != nil || valuesCall(values, 0, fs) || defaultsCall(c, fs) {
		return true
	}
	return chartCalls(c, "", funcs{"tpl"}, true) != nil && filesName(c, fs)
}

// defaultsCall reports whether a default value of c or of a subchart
// (its values.yaml, which is not among its files) is a template that
// calls one of fs.
func defaultsCall(c *chart.Chart, fs funcs) bool {
	return valuesCall(c.Values, 0, fs) || slices.ContainsFunc(c.Dependencies(), func(d *chart.Chart) bool { return defaultsCall(d, fs) })
}

// filesName reports whether a file of c or of a subchart (not a
// template) names one of fs in a template action.
func filesName(c *chart.Chart, fs funcs) bool {
	for _, f := range c.Files {
		if text := string(f.Data); strings.Contains(text, "{{") && fs.named(text) {
			return true
		}
	}
	return slices.ContainsFunc(c.Dependencies(), func(d *chart.Chart) bool { return filesName(d, fs) })
}

// waitSecondAfter waits for the wall-clock second after the one t is in:
// a render started then stamps another time than one that ended at t. It
// does not wait when that second has come already; false when ctx ends
// first.
func waitSecondAfter(ctx context.Context, t time.Time) bool {
	next := t.Truncate(time.Second).Add(time.Second + 10*time.Millisecond)
	if !time.Now().Before(next) {
		return ctx.Err() == nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(time.Until(next)):
		return true
	}
}

// nondeterminismNote names the fields where two renders of a release made
// in different seconds differ; empty when they are the same.
func nondeterminismNote(spec manifest.ReleaseSpec, a, b string) string {
	paths := nondeterministicPaths(a, b, spec.Namespace)
	if len(paths) == 0 {
		return ""
	}
	more := ""
	if len(paths) > maxNondeterministicPaths {
		more = fmt.Sprintf(" and %d more", len(paths)-maxNondeterministicPaths)
		paths = paths[:maxNondeterministicPaths]
	}
	note := fmt.Sprintf("release %s renders differently on every run at %s%s; digitops upgrades it only when its chart or values change",
		spec.Name, strings.Join(paths, ", "), more)
	return redact.Secrets(note, spec.SecretValues)
}

// appliedRenderNote compares what the planner rendered for an install or an
// upgrade with what Helm rendered when it acted, a moment later: a
// difference is a nondeterministic template, noted on the release's result.
// Renders in the same second can't tell; a later sync's will.
func appliedRenderNote(step *Step, applied string) string {
	if step.rendered == "" || applied == "" {
		return ""
	}
	// Helm's manifest leaves out the chart's crds/, which the planner's
	// render includes: compare from Helm's side.
	return nondeterminismNote(step.Release, applied, step.rendered)
}

// nondeterministicPaths compares two renders object by object and returns
// "Kind/namespace/name /path" for every field that differs.
func nondeterministicPaths(a, b, namespace string) []string {
	objsA, errA := kube.Objects(a)
	objsB, errB := kube.Objects(b)
	if errA != nil || errB != nil {
		return nil
	}
	byName := make(map[string]*unstructured.Unstructured, len(objsB))
	for _, o := range objsB {
		byName[renderedName(o, namespace)] = o
	}
	var out []string
	for _, o := range objsA {
		name := renderedName(o, namespace)
		other, ok := byName[name]
		if !ok {
			out = append(out, name)
			continue
		}
		for _, p := range drift.DiffRendered(o, other) {
			out = append(out, name+" "+p)
		}
	}
	return out
}

// renderedName names a rendered object as digitops always does (kube.Ref):
// Kind/namespace/name, the release's namespace when the object has none,
// and Kind/name for the built-in cluster-scoped kinds (policy.ClusterScopedKind).
func renderedName(u *unstructured.Unstructured, namespace string) string {
	gvk := u.GroupVersionKind()
	if scoped, _ := policy.ClusterScopedKind(gvk.Group, gvk.Kind); scoped {
		// Kind/name: a namespace would name no object.
		if u.GetNamespace() == "" {
			return kube.Ref(u)
		}
		u = u.DeepCopy()
		u.SetNamespace("")
		return kube.Ref(u)
	}
	if u.GetNamespace() == "" {
		u = u.DeepCopy()
		u.SetNamespace(namespace)
	}
	return kube.Ref(u)
}

// untaggedHint explains a render failure that speaks of a tag, of a service
// its release chart lists without an image tag and that no live release gives
// one to (DIGIT charts refuse to render without one: "Tag is mandatory");
// "" otherwise.
func untaggedHint(spec manifest.ReleaseSpec, err error) string {
	if !spec.KeepLiveImageTag || !strings.Contains(strings.ToLower(err.Error()), "tag") {
		return ""
	}
	if image, ok := spec.MergedValues()["image"].(map[string]any); ok && image["tag"] != nil {
		return ""
	}
	return " (the release chart names no image tag for this service and no deployed release has one: the Go deployer would take the tag running in the cluster; give the tag in the release chart)"
}
