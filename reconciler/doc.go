// Package reconciler turns an Environment and the live cluster into a Plan,
// and a Plan into changes.
//
// # Deciding
//
// [DetermineReleaseState] is pure: from a desired release (with digests of its
// chart and values) and the live Helm release it returns what to do and why.
// [Planner.Plan] runs it for every release of an environment and adds the
// prune steps. Nothing in the deciding half talks to the cluster except the
// read of live state, which is done before and passed in.
//
// # Acting
//
// Each action (install, upgrade, uninstall, unlock) is a small type with a
// Run method. [Applier.Apply] walks the plan as a DAG: a release starts when
// everything it needs has succeeded, independent releases run in parallel up
// to the environment's concurrency, and a failed release stops its dependants,
// not its siblings. With the policy's Wait, digitops's readiness gate
// (kstatus-style rules for Deployments, StatefulSets, DaemonSets and Jobs, see
// [DeploymentReadiness]) replaces Helm's wait: it is the one wait both for the
// action's success and for the releases that need it.
//
// # Recording
//
// digitops records what it deployed on the Helm release itself, as release
// labels: the environment that owns it and digests of the chart and of the
// values. A re-sync with the same chart and values is decided from those
// labels alone, without rendering and without writing anything.
package reconciler
