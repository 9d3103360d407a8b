// Package manifest turns a checked-out environment repository into
// Environments: the desired state digitops reconciles.
//
// The entry point is [Load], which reads digitops.yaml (the contract in
// DESIGN.md), picks the layout of each environment (native, digit or helmfile)
// and returns fully resolved [ReleaseSpec]s: the chart directory, the merged
// values, the needs and the labels of every release.
//
// Loading is all or nothing. Any error (bad YAML, an unknown key, a missing
// chart, a needs cycle) yields no Environment at all, so the reconciler can
// never act, and above all never prune, on a half-loaded environment. Every
// error names the file and, where YAML gives one, the line.
package manifest
