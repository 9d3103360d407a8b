// Package takeover decides what an install does with the live objects it
// renders, and reads what it decides on.
//
// An install renders objects that may already exist: applied by kubectl,
// by the Go deployer, by hand, or by another Helm release. [ReadLive] reads
// the live counterpart of each rendered object (one GET each, or one
// metadata LIST of a place many of them render into, see [ListCrowded]) and
// its owner: the Helm release that owns it and that release's digitops
// environment, or its field managers. [Decide] is pure: under the
// environment's adoption mode (sync.adopt) it takes an object over (an
// [Adoption]) or refuses it, and [Claims] keeps two installs of one plan
// from taking the same object.
//
// Taking an object over must restart nothing: [KeptFields] names the
// fields of an adopted object that render differently on every run, whose
// live value the install keeps. [RendersAlike] decides whether a release
// another tool installed (a helmfile release) renders what its deployed
// revision holds, so that digitops only records its labels on it;
// [UsesReleaseName] whether a chart names its objects after the release, so
// that the Go deployer's names ("release-name-…") may be live beside them.
//
// The reconciler renders, fills the plan's steps and acts; this package
// never imports it. Objects are named as kube names them
// ("Kind/namespace/name", "Kind/name" when cluster-scoped), by the caller.
package takeover
