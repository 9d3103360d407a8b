// Package loader is the entry point that turns a repository checkout and its
// digitops.yaml into a validated manifest.Environment, dispatching to the
// layout packages (native, digit, helmfile).
package loader
