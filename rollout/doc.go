// Package rollout decides how a new revision of a repository moves through
// the waves of a rollout (digitops.yaml's rollouts:): wave by wave, each
// only after every environment of the wave before applied it, stayed in
// sync for the wave's soak time and passed its Prometheus gate.
//
// The decision is pure: [Next] takes the rollout's State (what the daemon
// stores in its own cluster, so a restart or a new leader resumes where it
// was), the revision at the head of the repository, and the health of each
// environment, and returns the next State with the Events that happened.
// [Act] applies an operator's promote, pause, resume or abort the same way.
// Reading health, querying Prometheus, storing the State and syncing the
// environments at their promoted revision are the daemon's.
package rollout
