// Package drift finds and restores what changed in a cluster since Helm
// deployed a release: the fields a chart sets whose live value differs, the
// fields another field manager added, the fields and objects that are gone.
//
// A [Detector] compares each object of a release's deployed manifest with
// the live object, field by field with the owners from managedFields, and
// returns [Item]s that name the object (kube.Ref), the JSON pointer, the
// values (secrets masked where found, see internal/redact) and the manager
// that made the change. Its object cache keeps one metadata-trimmed watch
// per resource and namespace, so that a drift check of an unchanged
// cluster makes no request; [NewDirectDetector] reads with GETs instead.
// [Restore] puts drifted objects back in place, as Helm's field manager,
// without a new Helm revision.
//
// Deciding what to do about drift (correct, warn) is the reconciler's
// (reconciler.Decide); this package only observes and restores.
package drift
