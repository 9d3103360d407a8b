package reconciler

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	helmkube "helm.sh/helm/v3/pkg/kube"

	"github.com/digitops/digitops/internal/redact"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// DriftKind is what happened to a field or an object since Helm deployed it.
type DriftKind string

// Drift kinds.
const (
	// DriftChanged is a field the chart sets whose live value differs.
	DriftChanged DriftKind = "changed"
	// DriftAdded is a field the chart does not set, added by a field
	// manager that is neither Helm nor on the allow list.
	DriftAdded DriftKind = "added"
	// DriftRemoved is a field the chart sets that is gone from the object.
	DriftRemoved DriftKind = "removed"
	// DriftDeleted is an object of the release that no longer exists.
	DriftDeleted DriftKind = "deleted"
)

// DriftItem is one difference between what a release deployed and the live
// cluster.
type DriftItem struct {
	// Object is Kind/namespace/name (Kind/name when cluster-scoped).
	Object string `json:"object"`
	// Path is a JSON pointer into the object (e.g. /spec/replicas); an item
	// of a keyed list is a `key=value` token, as in
	// /spec/template/spec/containers/name=app/image. Empty for a deleted
	// object.
	Path string `json:"path,omitempty"`
	// Kind is one of DriftChanged, DriftAdded, DriftRemoved, DriftDeleted.
	Kind DriftKind `json:"kind"`
	// Before is what the release deployed, After what is live; maps and
	// lists are compact JSON. Secret data and secret values are masked.
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	// Manager is the field manager that made the change, read from the
	// object's managedFields; empty when the object does not say (a
	// deleted object, or an object without managedFields).
	Manager string `json:"manager,omitempty"`
}

// String renders the item on one line.
func (d DriftItem) String() string {
	var b strings.Builder
	b.WriteString(d.Object)
	if d.Path != "" {
		b.WriteString(" " + d.Path)
	}
	b.WriteString(" " + string(d.Kind))
	switch d.Kind {
	case DriftChanged:
		fmt.Fprintf(&b, ": %s -> %s", d.Before, d.After)
	case DriftAdded:
		fmt.Fprintf(&b, ": %s", d.After)
	case DriftRemoved:
		fmt.Fprintf(&b, ": was %s", d.Before)
	}
	if d.Manager != "" {
		b.WriteString(" (by " + d.Manager + ")")
	}
	return b.String()
}

// DefaultDriftAllowManagers are the field managers whose changes are never
// drift: Kubernetes' controllers (kube-controller-manager runs the
// Deployment, ReplicaSet and HPA controllers) and the Vertical Pod
// Autoscaler. Users add their own (admission webhooks, operators) with
// sync.driftAllowManagers.
func DefaultDriftAllowManagers() []string {
	return []string{
		"kube-controller-manager",
		"kube-scheduler",
		"horizontal-pod-autoscaler",
		"vpa-recommender",
		"vpa-updater",
		"vpa-admission-controller",
	}
}

// FieldManager is the field manager the digitops binary has Helm write
// objects with (it sets Helm's kube.ManagedFieldsManager to it at start).
const FieldManager = "digitops"

// HelmFieldManager is the field manager Helm writes objects with: the
// kube client's ManagedFieldsManager when set, else the running binary's name
// ("digitops" for the digitops binary, "helm" for the helm CLI).
func HelmFieldManager() string {
	if helmkube.ManagedFieldsManager != "" {
		return helmkube.ManagedFieldsManager
	}
	if len(os.Args) == 0 || os.Args[0] == "" {
		return "unknown"
	}
	return filepath.Base(os.Args[0])
}

// helmManagers are the field managers whose writes are the release's own:
// Helm as run by digitops, by the helm CLI, and by helmfile (which runs helm).
func helmManagers() []string {
	managers := []string{HelmFieldManager(), "helm", FieldManager}
	// A binary renamed before the manager was pinned wrote under its
	// file name.
	if len(os.Args) > 0 && os.Args[0] != "" {
		managers = append(managers, filepath.Base(os.Args[0]))
	}
	return managers
}

// matchManager reports whether manager matches one of the globs.
func matchManager(globs []string, manager string) bool {
	for _, g := range globs {
		if g == manager {
			return true
		}
		if ok, err := path.Match(g, manager); err == nil && ok {
			return true
		}
	}
	return false
}

// DecideDrift turns the drift found on an otherwise unchanged release into a
// decision. It is pure. In mode correct a drifted release is corrected; in
// mode warn it is left alone and the reason says it drifted.
func DecideDrift(mode manifest.DriftMode, items []DriftItem) ReleaseState {
	if len(items) == 0 {
		return ReleaseState{ActionNone, "unchanged"}
	}
	objects := map[string]bool{}
	for _, it := range items {
		objects[it.Object] = true
	}
	what := fmt.Sprintf("%d drift item(s) on %d object(s)", len(items), len(objects))
	if mode == manifest.DriftWarn {
		return ReleaseState{ActionNone, "drifted: " + what + " (drift: warn, not corrected)"}
	}
	return ReleaseState{ActionCorrectDrift, "drifted: " + what}
}

// checkDrift looks for drift on a release whose digests say unchanged and,
// when it finds some, records it on the step as drifted. A failure to look is a plan note, not an error: the
// other releases still get planned.
func (p *Planner) checkDrift(ctx context.Context, env *manifest.Environment, step *Step) (note string) {
	items, err := p.Drift.Detect(ctx, step.Release, step.Live, env.Policy)
	if err != nil {
		return redact.Secrets(fmt.Sprintf("release %s: drift not checked: %v", step.Release.Name, err), step.Release.SecretValues)
	}
	if len(items) > 0 {
		step.observe(Observation{Status: StatusDrifted, Reason: step.Reason, Drift: items}, env.Policy.Drift)
	}
	return ""
}

// driftWorkers bounds the releases checked for drift at once: each check is
// a few GETs, so latency, not the apiserver, is what parallelism hides.
const driftWorkers = 8

// checkDriftAll checks every unchanged release for drift, several at once,
// and records the notes in release order and the requests made.
func (p *Planner) checkDriftAll(ctx context.Context, env *manifest.Environment, plan *Plan) {
	if p.Drift == nil || env.Policy.Drift == manifest.DriftOff {
		return
	}
	var todo []int
	for i := range plan.Steps {
		if st := &plan.Steps[i]; st.Live != nil && st.Status == StatusInSync {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return
	}
	before := p.Drift.Requests()
	lives := make([]*kube.LiveRelease, len(todo))
	for j, i := range todo {
		lives[j] = plan.Steps[i].Live
	}
	p.Drift.prefetch(ctx, lives)
	notes := make([]string, len(plan.Steps))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(driftWorkers, len(todo)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				notes[i] = p.checkDrift(ctx, env, &plan.Steps[i])
			}
		}()
	}
	for _, i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, n := range notes {
		if n != "" {
			plan.Notes = append(plan.Notes, n)
		}
	}
	plan.APIRequests += int(p.Drift.Requests() - before)
}
