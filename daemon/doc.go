// Package daemon is digitops serve: it keeps many environments, in many
// clusters, in sync with their Git repositories from one process.
//
// # Shape
//
// [Daemon.Run] runs a group of actors (github.com/oklog/run): the HTTP
// server, the sync loops and, with leader election, the elector. The first
// to return stops the others. Each watched repository is a source with one
// Git client, shared by every environment read from it; each environment
// has its own loop, so a failing or slow environment never holds up another.
//
// The HTTP API, the status page and the webhook receivers are package
// daemon/web, which sees the daemon through web.Backend (api.go); the
// rollouts are package daemon/rollouts, which reads the environments
// through rollouts.Environments (environments.go). Neither imports this
// package.
//
// With serve --shard (Options.Shard), package daemon/shard spreads the
// environments over the replicas through Leases: a loop syncs only while
// its replica owns the environment, under a guard whose loss drains the
// sync; the others stand by without fetching. Any replica answers the API
// for every environment (peers.go reads the owners' status; web forwards
// actions to them).
//
// # One sync
//
// A loop wakes on its interval (the environment's sync.interval, spread by
// ±10% jitter), on a webhook push (debounced) or on a resume. It fetches
// (one ls-remote when nothing moved), then:
//
//   - when the revision is the one of the last sync, that sync left nothing
//     to do, the live Helm releases of the environment (one metadata-only
//     list) are as it left them, and DriftInterval has not elapsed, it stops
//     there: result "unchanged". Nothing is loaded, rendered or planned.
//     Drift inside the objects of a release does not show in Helm's
//     records, so drift is looked for at DriftInterval (default 5m), not at
//     every interval;
//   - otherwise it loads the environment, reads the live state, plans,
//     marks the steps of suspended releases as skips, and — when this
//     replica leads — applies.
//
// # Watch-driven drift
//
// The drift detector's watches report every edit or deletion of a live
// object a release deployed. The loop of the environment that owns the
// release checks that release alone, Options.DriftDebounce after the first
// event, and in correct mode corrects it at once (the loop's driftWorker,
// watchdrift.go). This runs
// beside the full sync, never behind it, and never on a release the full
// sync is acting on (each claims the releases it acts on). A manager that
// undoes every correction is a fight: reported once, then the corrections
// back off.
//
// # Rollouts
//
// The leader's rollout loop of each source moves the rollouts its
// digitops.yaml declares (package rollout decides, package daemon/rollouts
// acts), stores their state in the ConfigMap RolloutConfigMap of the home
// cluster and wakes the environments it promoted; an environment of a
// later wave syncs the commit promoted to it. Operators act through
// POST /api/v1/rollouts/{name}/promote|pause|resume|abort.
//
// # Sync history
//
// Each loop keeps its environment's history (package daemon/history,
// synchistory.go): every sync that planned or failed, and every
// watch-driven correction, with what woke it (the loop remembers the
// reason of its last wake: start, poll, webhook, manual, rollout, leader;
// watch for the drift worker), appended in memory when the sync ends.
// The ring writes it to a ConfigMap of the home cluster beside the
// sync, never in its way, while this replica acts; it is read when the
// loop starts, so a restarted daemon or a new leader keeps it.
// GET /api/v1/environments/{env}/history answers it.
//
// # Notifications
//
// The leader queues sync, drift and rollout events for the notify entries
// of each environment (package notify); a stopping daemon sends what its
// loops queued last.
//
// A fetch failure keeps the last good revision: the environment is still
// synced from it, the failure is counted and shown.
//
// # Readiness
//
// /readyz answers 200 once at least one environment has been loaded and
// planned since start, and stays so (a Git outage later does not make the
// replica unready): one broken environment must not keep a Deployment
// from rolling out.
//
// # Suspend and resume
//
// POST /api/v1/environments/{env}/suspend|resume and
// .../releases/{release}/suspend|resume. A suspended environment never
// acts: it fetches, and plans without applying only when its revision
// moved (or a sync is asked), so that the console shows what resuming
// would do; a suspended release is planned as a skip. Suspensions are
// saved in CacheDir/suspended.json (with --shard, a ConfigMap) and
// survive a restart.
//
// # The console's API
//
// Each planned sync keeps, for GET /api/v1/environments/{env}, the changes
// it did not carry out with their diffs, and each release's order and
// takeovers (pending.go); GET .../releases/{release} adds the release's
// Helm history read from Helm's storage. POST .../sync plans in full now.
// POST .../releases/{release}/rollback is an operator's emergency
// rollback (console.go): under the shard guard and the release's claim,
// it suspends the release with a rollback mark, then Helm rolls it back;
// the mark holds until the release is resumed.
//
// # Shutdown
//
// When Run's context is cancelled no new sync starts; a sync in progress
// keeps its Helm actions running for up to ShutdownGrace (their context is
// cancelled only then), so a release is not left pending-install or
// pending-upgrade when it can be helped.
//
// # Leader election
//
// With Options.LeaderElection only the holder of the Lease applies; other
// replicas plan and serve status and metrics (sync result "standby"). A
// replica that loses the Lease stops (Kubernetes restarts it).
package daemon
