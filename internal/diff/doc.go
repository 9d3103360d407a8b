// Package diff compares two rendered Helm manifests object by object.
//
// # Objects
//
// A manifest is split into its YAML documents; each object is keyed by
// apiVersion, kind, namespace and name. [Manifests] returns one [Object] per
// key that was added, removed or changed, with a unified diff of the object's
// fields (normalised: keys sorted, so formatting noise never shows).
//
// # Secrets
//
// Nothing secret is ever shown: the data and stringData of every Secret, and
// every string listed in [Options.Secrets], are replaced by
// redact.Value's short hash before diffing, so a change is still visible
// and the value is not.
//
// # Printing
//
// [Write] prints the diffs for a terminal (colour when asked) or plain text;
// [WriteMarkdown]-style callers use [Object.Unified] directly.
package diff
