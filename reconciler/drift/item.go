package drift

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	helmkube "helm.sh/helm/v3/pkg/kube"
)

// Kind is what happened to a field or an object since Helm deployed it.
type Kind string

// Drift kinds.
const (
	// Changed is a field the chart sets whose live value differs.
	Changed Kind = "changed"
	// Added is a field the chart does not set, added by a field
	// manager that is neither Helm nor on the allow list.
	Added Kind = "added"
	// Removed is a field the chart sets that is gone from the object.
	Removed Kind = "removed"
	// Deleted is an object of the release that no longer exists.
	Deleted Kind = "deleted"
)

// Item is one difference between what a release deployed and the live
// cluster.
type Item struct {
	// Object is Kind/namespace/name (Kind/name when cluster-scoped).
	Object string `json:"object"`
	// Path is a JSON pointer into the object (e.g. /spec/replicas); an item
	// of a keyed list is a `key=value` token, as in
	// /spec/template/spec/containers/name=app/image. Empty for a deleted
	// object.
	Path string `json:"path,omitempty"`
	// Kind is one of Changed, Added, Removed, Deleted.
	Kind Kind `json:"kind"`
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
func (d Item) String() string {
	var b strings.Builder
	b.WriteString(d.Object)
	if d.Path != "" {
		b.WriteString(" " + d.Path)
	}
	b.WriteString(" " + string(d.Kind))
	switch d.Kind {
	case Changed:
		fmt.Fprintf(&b, ": %s -> %s", d.Before, d.After)
	case Added:
		fmt.Fprintf(&b, ": %s", d.After)
	case Removed:
		fmt.Fprintf(&b, ": was %s", d.Before)
	}
	if d.Manager != "" {
		b.WriteString(" (by " + d.Manager + ")")
	}
	return b.String()
}

// DefaultAllowManagers are the field managers whose changes are never
// drift: Kubernetes' controllers (kube-controller-manager runs the
// Deployment, ReplicaSet and HPA controllers) and the Vertical Pod
// Autoscaler. Users add their own (admission webhooks, operators) with
// sync.driftAllowManagers.
func DefaultAllowManagers() []string {
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
