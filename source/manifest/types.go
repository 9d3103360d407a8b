package manifest

import (
	"fmt"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/strvals"
)

// LayoutName names a layout digitops reads (digitops.yaml's layout:).
type LayoutName string

// Layouts digitops reads.
const (
	LayoutNative   LayoutName = "native"
	LayoutDigit    LayoutName = "digit"
	LayoutHelmfile LayoutName = "helmfile"
)

// DriftMode is what a sync does about drift (digitops.yaml's sync.drift).
type DriftMode string

// Drift modes.
const (
	DriftCorrect DriftMode = "correct"
	DriftWarn    DriftMode = "warn"
	DriftOff     DriftMode = "off"
)

// DeployerReleaseName is the .Release.Name of every chart the Go deployer
// renders (`helm template` without a name).
const DeployerReleaseName = "release-name"

// Adoption modes: which live objects an install may take into its release
// (a takeover of a cluster deployed by kubectl or another Helm release).
// AdoptMode says which live objects an install may take over
// (digitops.yaml's sync.adopt).
type AdoptMode string

const (
	// AdoptUnowned takes objects no Helm release owns (applied by kubectl,
	// the Go deployer or by hand); an object of another Helm release is an
	// error naming it.
	AdoptUnowned AdoptMode = "unowned"
	// AdoptHelmReleases also takes objects of other Helm releases (a
	// helmfile release under another name).
	AdoptHelmReleases AdoptMode = "helm-releases"
	// AdoptNone takes nothing: an existing object is an error (Helm's own
	// behaviour).
	AdoptNone AdoptMode = "none"
)

// Environment is one deployable environment: a set of Helm releases that
// target one cluster.
type Environment struct {
	// Name is the environment's name from digitops.yaml.
	Name string
	// Layout is the layout the releases were read from.
	Layout LayoutName
	// RepoDir is the absolute path of the repository checkout.
	RepoDir string
	// Cluster says which cluster the environment targets.
	Cluster ClusterRef
	// Policy is the sync policy.
	Policy SyncPolicy
	// Releases are the desired releases, in a valid dependency order. A
	// release that could not be loaded is here with its Err set, so that
	// the others are still planned and what needs it is blocked.
	Releases []ReleaseSpec
	// Warnings are what the layout accepted where the tool it replaces was
	// lenient (see Warning).
	Warnings []Warning
	// Notify are the environment's notification targets.
	Notify []NotifyConfig
}

// Errors returns the releases that could not be loaded.
func (e *Environment) Errors() []ReleaseSpec {
	var out []ReleaseSpec
	for _, r := range e.Releases {
		if r.Err != nil {
			out = append(out, r)
		}
	}
	return out
}

// Release returns the release with the given name, or false.
func (e *Environment) Release(name string) (ReleaseSpec, bool) {
	for _, r := range e.Releases {
		if r.Name == name {
			return r, true
		}
	}
	return ReleaseSpec{}, false
}

// ClusterRef names the cluster an environment targets.
type ClusterRef struct {
	// Context is a kubeconfig context; empty means the current context.
	Context string `yaml:"context,omitempty" json:"context,omitempty"`
	// Kubeconfig is a kubeconfig file; empty means the default loading rules.
	Kubeconfig string `yaml:"kubeconfig,omitempty" json:"kubeconfig,omitempty"`
	// KubeconfigSecret reads the kubeconfig from a Secret in the cluster the
	// daemon runs in.
	KubeconfigSecret *SecretKeyRef `yaml:"kubeconfigSecret,omitempty" json:"kubeconfigSecret,omitempty"`
}

// SecretKeyRef points at one key of a Kubernetes Secret.
type SecretKeyRef struct {
	Namespace string `yaml:"namespace" json:"namespace"`
	Name      string `yaml:"name" json:"name"`
	Key       string `yaml:"key" json:"key"`
}

// SyncPolicy says how and how often an environment is reconciled.
type SyncPolicy struct {
	// Interval between two syncs of the daemon.
	Interval time.Duration
	// Prune uninstalls releases digitops installed that are no longer in Git.
	Prune bool
	// Drift is one of DriftCorrect, DriftWarn, DriftOff.
	Drift DriftMode
	// Concurrency is the number of releases applied at once.
	Concurrency int
	// Timeout bounds one release's Helm action and readiness wait.
	Timeout time.Duration
	// MaxPrunePercent refuses a sync that would prune more than this share
	// of the environment's releases, unless forced.
	MaxPrunePercent int
	// HistoryMax is the number of Helm revisions kept per release.
	HistoryMax int
	// OpenAPIValidation makes Helm validate every rendered object against
	// the cluster's OpenAPI schema before sending it. Off by default: the
	// apiserver validates every object it receives anyway, and the client
	// side check (a schema download and parse per Helm action) was half of
	// a cold install's time in the benchmark.
	OpenAPIValidation bool
	// Wait makes digitops wait, after installing or upgrading a release,
	// for the objects it deployed to be ready (Deployments, StatefulSets,
	// DaemonSets, Jobs; others once they exist), within Timeout, and before
	// the releases that need it start. Helm's own wait is not used.
	Wait bool
	// RemediateFailedUpgrade rolls a failed upgrade back to the last
	// deployed revision.
	RemediateFailedUpgrade bool
	// RemediateFailedInstall uninstalls a failed install.
	RemediateFailedInstall bool
	// Retries is how many more times a failed install or upgrade is tried
	// in the same sync (after its remediation, with a growing pause); 0
	// means once.
	Retries int
	// Backoff is how long the daemon waits before it tries again a desired
	// state (chart and values) that failed, doubled after each failure up to
	// MaxBackoff; a new commit or a manual retry tries at once.
	Backoff, MaxBackoff time.Duration
	// Adopt is one of AdoptUnowned (default), AdoptHelmReleases, AdoptNone.
	Adopt AdoptMode
	// DriftAllowManagers are field managers (globs) whose changes are not
	// drift, in addition to the reconciler's defaults (controllers, HPA, VPA).
	DriftAllowManagers []string
	// DriftIgnore are fields (or whole objects) drift detection skips.
	DriftIgnore []DriftIgnoreRule
}

// DriftIgnoreRule makes drift detection skip fields of some objects.
type DriftIgnoreRule struct {
	// Release, Kind, Namespace and Name select objects; empty matches all,
	// and Name may be a glob.
	Release   string `yaml:"release,omitempty" json:"release,omitempty"`
	Kind      string `yaml:"kind,omitempty" json:"kind,omitempty"`
	Namespace string `yaml:"namespace,omitempty" json:"namespace,omitempty"`
	Name      string `yaml:"name,omitempty" json:"name,omitempty"`
	// Paths are JSON pointers (e.g. /spec/replicas); a token may be `*`
	// (any) or a list-item selector like `name=app`. A rule without paths
	// ignores the whole object, deletion included.
	Paths []string `yaml:"paths,omitempty" json:"paths,omitempty"`
}

// DefaultSyncPolicy is the policy of an environment that sets none.
func DefaultSyncPolicy() SyncPolicy {
	return SyncPolicy{
		Interval:        time.Minute,
		Prune:           false,
		Drift:           DriftCorrect,
		Adopt:           AdoptUnowned,
		Concurrency:     4,
		Timeout:         5 * time.Minute,
		MaxPrunePercent: 30,
		HistoryMax:      10,
		Wait:            true,

		RemediateFailedUpgrade: true,
		RemediateFailedInstall: true,
		Backoff:                time.Minute,
		MaxBackoff:             time.Hour,
	}
}

// ReleaseSpec is one desired Helm release.
type ReleaseSpec struct {
	// Name is the Helm release name, unique in the environment.
	Name string
	// TemplateName is the .Release.Name the chart's templates see, when it
	// is not Name: "release-name", the Go deployer's, so that objects keep
	// the names the deployer gave them (environment releaseName: deployer).
	TemplateName string
	// Namespace is the release namespace.
	Namespace string
	// Chart says where the chart comes from.
	Chart ChartRef
	// Values are the merged user-supplied values (what `helm -f` would get),
	// unless Lazy is set: then Values is nil. Read them with MergedValues,
	// which is right in both cases.
	//
	// Values are immutable once a layout has built them: below the top
	// level they share maps and lists with other releases' values (every
	// release of a DIGIT environment carries the whole environment file,
	// once in memory, not once per release). Never write into them: hand
	// CopyValues(MergedValues()) to anything that writes (Helm's install and
	// upgrade actions do), or build new values with OverlayValues and
	// DetachValue, and replace them with WithValues instead.
	Values map[string]any
	// Lazy, when set, builds the values on each read (MergedValues) instead
	// of keeping them merged: the top level of a DIGIT release's values is
	// a copy of the environment file's, and 500 such copies were the
	// largest thing a 500-release sync held (21 MB of a 50 MB live heap).
	Lazy *LazyValues
	// Needs are names of releases that must be ready before this one.
	Needs []string
	// Labels select releases (helmfile-style selectors).
	Labels map[string]string
	// Images are the image references set for this release, if any.
	Images []string
	// SecretValues are the string values that came from a secrets file; they
	// are masked wherever digitops prints anything.
	SecretValues []string
	// ValueSources are the layers Values was merged from, in merge order
	// (the last one wins): which file a key of Values came from, for the
	// plan's "why it changed". They share their maps with Values: never
	// write into them.
	ValueSources []ValueSource
	// KeepLiveImageTag asks the reconciler to reuse the image tag of the live
	// release because the release chart names no tag for this service.
	KeepLiveImageTag bool
	// Source is the file (relative to the repository) the release was
	// declared in, for error messages.
	Source string
	// Err, when set, says why the release could not be loaded (no chart
	// for a DIGIT service, a values file that does not parse, ...): it is
	// planned as an error and nothing is done to it; Name and Namespace
	// are set, the other fields may be empty. Err is usually an *Error.
	Err error
}

// MergedValues returns the release's values: Values, or those Lazy builds
// (a fresh top level on each call, sharing everything below it). The same
// rules as for Values hold: never write into them.
func (r ReleaseSpec) MergedValues() map[string]any {
	if r.Lazy == nil {
		return r.Values
	}
	// The layout built them once when it loaded the release and reported
	// an error then; the same inputs build the same values.
	v, _ := r.Lazy.Build()
	return v
}

// WithValues returns r with its values replaced by v (and no Lazy).
func (r ReleaseSpec) WithValues(v map[string]any) ReleaseSpec {
	r.Values, r.Lazy = v, nil
	return r
}

// LazyValues are a release's values as a recipe: layers over a base that
// other releases share, then Helm --set expressions. Build merges them.
type LazyValues struct {
	// Base is shared with other releases (a DIGIT environment file): never
	// written.
	Base map[string]any
	// Layers go over Base in order, as OverlayValues merges them.
	Layers []map[string]any
	// Sets are --set expressions (key=value), parsed by Helm's strvals into
	// the merged layers, in order, each after DetachSetKey of its key.
	Sets []string
}

// Build merges the values. On an error (a --set Helm refuses, which names
// the expression) it returns the values built so far with it.
func (l *LazyValues) Build() (map[string]any, error) {
	vals := OverlayValues(l.Base, l.Layers...)
	for _, s := range l.Sets {
		key, _, _ := strings.Cut(s, "=")
		DetachSetKey(vals, key)
		if err := strvals.ParseInto(s, vals); err != nil {
			return vals, fmt.Errorf("--set %s: %w", s, err)
		}
	}
	return vals, nil
}

// ValueSource is one layer of a release's values: the file it came from
// (relative to the repository; for --set-style values, the file that set
// them, e.g. the release chart for an image tag) and its values.
type ValueSource struct {
	File   string
	Values map[string]any
}

// SourceOf returns the file the value at path (keys from the top) came
// from: the last layer that sets it or, for a key no layer sets any more,
// the last that sets its nearest parent; "" when none.
func (r ReleaseSpec) SourceOf(path []string) string {
	for n := len(path); n > 0; n-- {
		for i := len(r.ValueSources) - 1; i >= 0; i-- {
			if hasPath(r.ValueSources[i].Values, path[:n]) {
				return r.ValueSources[i].File
			}
		}
	}
	return ""
}

func hasPath(m map[string]any, path []string) bool {
	var cur any = m
	for _, k := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = mm[k]; !ok {
			return false
		}
	}
	return true
}

// ChartRef locates a chart: a local directory, or a chart in a repository.
type ChartRef struct {
	// Root, for a local chart, is the repository root the chart and its
	// file:// dependencies must stay inside (links included); empty means
	// unconfined (tests). The loader sets it.
	Root string
	// Path is the absolute directory of a local chart.
	Path string
	// RepoURL is an https or oci:// repository, for remote charts.
	RepoURL string
	// Name is the chart name in RepoURL.
	Name string
	// Version is a version or constraint in RepoURL.
	Version string
}

// String returns the chart's location for humans.
func (c ChartRef) String() string {
	if c.Path != "" {
		return c.Path
	}
	if c.Version != "" {
		return c.RepoURL + "/" + c.Name + "@" + c.Version
	}
	return c.RepoURL + "/" + c.Name
}
