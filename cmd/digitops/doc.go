// Command digitops is the GitOps reconciler for Helm-based platforms such as
// DIGIT: it reads environment repositories, plans and applies Helm releases,
// and (with serve) keeps them in sync.
//
// main is thin: each subcommand lives in its own file and calls into the
// source, reconciler and metrics packages.
package main
