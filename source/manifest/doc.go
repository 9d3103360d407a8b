// Package manifest turns a checked-out environment repository into
// Environments: the desired state digitops reconciles.
//
// The entry point is
// [github.com/digitops/digitops/source/manifest/loader.Environment] (or
// loader.All for every environment), which reads digitops.yaml (the contract
// in docs/configuration.md), picks the layout of each environment (native,
// digit or helmfile) and returns fully resolved [ReleaseSpec]s: the chart
// directory, the merged values, the needs and the labels of every release.
// This package holds what the loader and the layouts share: the
// configuration, the model, values handling and validation.
//
// An error that concerns the whole environment (bad YAML in a file the
// environment reads as a whole, an unknown key, a missing file, a needs
// cycle) yields no Environment at all, so the reconciler can never act, and
// above all never prune, on a half-loaded environment. A release that cannot
// be built on its own (a DIGIT service without a chart) is returned with
// ReleaseSpec.Err set: it is planned as an error, what needs it is blocked,
// and nothing is pruned while it is. Every error names the file and, where
// YAML gives one, the line; what a layout accepts although it is likely a
// mistake is a [Warning].
package manifest
