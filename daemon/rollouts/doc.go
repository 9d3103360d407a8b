// Package rollouts runs digitops.yaml's rollouts in the daemon: the
// environments of a rollout's first wave follow the head of the
// repository; those of later waves run the commit the rollout promoted to
// them.
//
// Package rollout (singular) decides, purely: how a revision moves
// through the waves (rollout.Next, rollout.Act) and whether a Prometheus
// gate holds. This package stores and acts: a [Manager] reads each
// source's rollouts from its head (once per commit), reads every
// environment's typed health from the daemon ([Environments]: the commit
// of its last sync, in sync, failed), decides with package rollout on
// every tick while this replica leads, checks the gate of a wave that
// soaks, stores the state in the ConfigMap [ConfigMap] of the home
// cluster (so a restart or a new leader resumes where the rollout was),
// then logs, counts, notifies and wakes the environments it promoted.
// Standby replicas read the stored state, so their plans use the same
// revisions.
//
// The daemon asks [Manager.Pinned] which snapshot an environment syncs
// (head, or the commit a rollout keeps it on), [Manager.Statuses] for the
// API and the page, and [Manager.Act] for an operator's promote, pause,
// resume or abort. This package never imports the daemon.
package rollouts
