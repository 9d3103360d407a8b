package takeover

import (
	"bytes"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/source/manifest"
)

// Adoption is a live object that an install takes into its new Helm
// release: the object exists (applied by kubectl, the Go deployer, by hand,
// or another Helm release when the policy allows it) and the release renders
// it.
type Adoption struct {
	// Object is "Kind/namespace/name" ("Kind/name" when cluster-scoped).
	Object string `json:"object"`
	// Owner is what writes it today: its field managers, or the Helm
	// release that owns it.
	Owner string `json:"owner"`
	// Kept are the fields whose live value the install keeps: they render
	// differently on every run (a `now` stamped on a pod template), so that
	// taking the object over restarts nothing.
	Kept []string `json:"kept,omitempty"`
	// FromRelease is "namespace/name" of the Helm release the object is
	// taken from, "" when none owns it. It is not part of the plan's JSON:
	// the uninstall of that release hands the object over instead.
	FromRelease string `json:"-"`
}

// String is the object, its owner and the fields it keeps, as the plan
// prints them.
func (a Adoption) String() string {
	s := a.Object + " (" + a.Owner + ")"
	if len(a.Kept) > 0 {
		s += ", keeps live " + strings.Join(a.Kept, ", ")
	}
	return s
}

// Decision is what an install does with the live objects it renders.
type Decision struct {
	// Adopt are the live objects the install takes over, in render order.
	Adopt []Adoption
	// Refused names the objects the install cannot take, with their owner;
	// the install is then an error.
	Refused []string
	// Hint is the remedy the refusal message ends with, when there is one
	// that fits every refusal: "" when some refusal has none.
	Hint string
}

// Decide classifies the live counterparts of a release's rendered objects
// (live, as ReadLive found them) under the adoption mode: an object that is
// absent or already the release's is left to Helm; one of another digitops
// environment's release is always refused; under AdoptNone every live
// object is refused; one of another Helm release is taken only under
// AdoptHelmReleases; any other is taken. env is the digitops environment
// of the release, namespace/release its Helm release.
func Decide(env, release, namespace string, mode manifest.AdoptMode, live Live) Decision {
	var d Decision
	self := namespace + "/" + release
	helmOwned, other := false, false
	for _, name := range live.Names {
		lo := live.Owners[name]
		switch {
		case !lo.Exists, lo.HelmRelease == self:
			// Absent, or already this release's (Helm takes it itself).
		case lo.Environment != "" && lo.Environment != env:
			d.Refused = append(d.Refused, name+" belongs to Helm release "+lo.HelmRelease+" of digitops environment "+lo.Environment+", which digitops never takes from it")
			other = true
		case mode == manifest.AdoptNone:
			d.Refused = append(d.Refused, name+" exists (sync.adopt is none)")
			other = true
		case lo.HelmRelease != "" && mode != manifest.AdoptHelmReleases:
			d.Refused = append(d.Refused, name+" belongs to Helm release "+lo.HelmRelease)
			helmOwned = true
		case lo.HelmRelease != "":
			d.Adopt = append(d.Adopt, Adoption{Object: name, Owner: "Helm release " + lo.HelmRelease, FromRelease: lo.HelmRelease})
		default:
			owner := "no Helm owner"
			if len(lo.Managers) > 0 {
				owner = "managed by " + strings.Join(lo.Managers, ", ")
			}
			d.Adopt = append(d.Adopt, Adoption{Object: name, Owner: owner})
		}
	}
	if helmOwned && !other {
		d.Hint = " (set sync.adopt: helm-releases to take them)"
	}
	return d
}

// Claims are the objects the installs of one plan take, by name, with the
// release whose install takes each: two installs never take the same
// object. The zero value is not usable; make one with Claims{}.
type Claims map[string]string

// Claim refuses, in d, every object another install of the plan already
// takes (the hint then fits no more) and, when d then refuses nothing,
// records the objects it takes as release's. It returns d so changed.
func (c Claims) Claim(release string, d Decision) Decision {
	for _, a := range d.Adopt {
		if other, ok := c[a.Object]; ok {
			d.Refused = append(d.Refused, a.Object+" is also rendered by release "+other)
			d.Hint = ""
		}
	}
	if len(d.Refused) > 0 {
		return d
	}
	for _, a := range d.Adopt {
		c[a.Object] = release
	}
	return d
}

// KeptFields returns, by object, the fields an install keeps the live value
// of: of paths, the fields where two renders of the release differ
// ("Kind/namespace/name /json/pointer", as the reconciler's comparison of
// two renders names them), those the live object (live, by name) has, with
// its value there.
func KeptFields(paths []string, live map[string]*unstructured.Unstructured) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, np := range paths {
		name, path, ok := strings.Cut(np, " ")
		if !ok || live[name] == nil {
			continue
		}
		if v, found := drift.PointerGet(live[name].Object, path); found {
			if out[name] == nil {
				out[name] = map[string]any{}
			}
			out[name][path] = v
		}
	}
	return out
}

// RendersAlike reports whether a release another tool installed renders
// what its deployed revision holds but for the fields that render
// differently on every run: every path where the stored manifest and the
// plan's render differ (diffs, both ways; an object only one side has is
// its name alone) is one where two renders of the plan differ
// (nondeterministic), or the render's CRDs (Helm's manifest never has
// them). The release then only needs digitops's labels on that revision.
func RendersAlike(diffs, nondeterministic []string) bool {
	differs := make(map[string]bool, len(nondeterministic))
	for _, path := range nondeterministic {
		differs[path] = true
	}
	for _, path := range diffs {
		if !differs[path] && !strings.HasPrefix(path, "CustomResourceDefinition/") {
			return false
		}
	}
	return true
}

// UsesReleaseName reports whether a template of c or of its dependencies
// reads .Release.Name: the chart names objects after the Helm release, and
// the Go deployer's names for them ("release-name-…") may be live.
func UsesReleaseName(c *chart.Chart) bool {
	if slices.ContainsFunc(c.Templates, func(t *chart.File) bool { return bytes.Contains(t.Data, []byte(".Release.Name")) }) {
		return true
	}
	return slices.ContainsFunc(c.Dependencies(), UsesReleaseName)
}
