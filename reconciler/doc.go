// Package reconciler turns an Environment and the live cluster into a Plan,
// and a Plan into changes: one pipeline, [Syncer.Sync], that the CLI's plan
// and apply and the daemon all run.
//
// # Observe, decide, act
//
// [Syncer.Sync] reads the live Helm releases (package kube), then
// [Planner.Plan] observes each selected release: [ObserveRelease] compares
// it with its live revision and gives a typed [Status] (absent, out of sync
// and why, stuck, owned elsewhere, …), the drift detector (package drift)
// looks at the releases in sync, and suspension and hold-back (a failed
// desired state waiting for its next attempt) are observations too. One
// pure function, [Decide], maps what was observed to an action; renders,
// the comparison of upgrades with their deployed revision (see Recording),
// takeovers and dependency blocking follow, and the plan is returned as a
// value nobody writes to again. When asked, the [Applier] acts on it and
// returns a [Result] per release.
//
// Packages, imports one way: kube (clients, Helm storage, object names)
// ← drift (observe and restore drift) ← takeover (what an install takes of
// the live objects it renders, and the reads it decides on) ← reconciler
// (state, plan, render, actions and the scheduler). Secrets are masked by
// internal/redact where text is produced.
//
// docs/architecture.md draws the pipeline; docs/cli.md and
// docs/configuration.md are the contract it implements.
//
// # Acting
//
// Each action (install, upgrade, record, correct-drift, uninstall, unlock,
// delete-orphans) is a small type with a Run method that returns what it
// left ([Applied]); a failed upgrade's rollback is part of upgrade. The
// scheduler gets them through the [Runners] interface (fakes in its unit
// tests). [Applier.Apply] walks the plan as a DAG: a release starts when
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
//
// A release whose chart or values changed is not upgraded on that alone.
// Online, the plan compares each upgrade of a deployed release with the
// manifest its revision holds (compareDeployed): fields that render
// differently on every run (DIGIT's deployment-timestamp, a stamp of the
// render's clock; other differences are checked by a second render, at
// once with the chart's clock shifted, see clockShifted) and lists that differ only in order
// keep their deployed value, except in the pod template of a workload
// that restarts (its template changed, or it reads a ConfigMap or Secret
// an upgrade of the plan changes: [Step.Restarts] says which and why).
// A release whose render then equals the deployed manifest gets
// [ActionRecord]: [Record] rewrites that revision's stored chart, values
// and labels in place, with no Helm action and no new revision. A release
// unchanged in Git whose workloads read a changed ConfigMap or Secret is
// upgraded ([StatusConfigChanged]) so that its pods restart. Each upgrade
// names the values that changed and their file ([Step.Inputs], see
// explainInputs).
package reconciler
