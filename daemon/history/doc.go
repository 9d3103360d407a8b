// Package history keeps each environment's sync history: the last syncs
// that planned or failed (never the cheap "unchanged" checks or a
// suspended environment's no-ops), newest last, in memory and in one
// ConfigMap of the home cluster, so that a restarted daemon or a new
// leader answers with the same history.
//
// # Shape
//
// An [Entry] is one sync: when it started and how long it took, what woke
// it ([Trigger]), the revision, the result, the plan's counts ([Summary]),
// its first error (masked where it was made; this package masks nothing)
// and the releases it acted on. Entries are plain values with their own
// JSON: they are both what the ConfigMap stores and what
// GET /api/v1/environments/{env}/history answers ([Document]).
//
// A [Ring] is one environment's history. [Ring.Append] records an entry
// in memory at once and never does I/O: the sync that made it is not
// held up. [Ring.Run] loads the ConfigMap when it starts, then writes what
// was appended (one update per sync, batched when syncs come faster than
// the writes), and once more, with a fresh context, when it stops. A
// failed write is logged and tried again later; it never fails a sync.
//
// # Bounds
//
// A ring keeps at most [MaxEntries] entries and [MaxBytes] of JSON (the
// ConfigMap limit is 1 MiB), dropping the oldest first; an entry over
// [MaxEntryBytes] (a sync acting on hundreds of releases) keeps the
// releases that fit and counts the others ([Entry.MoreReleases]). The
// bounds are pure functions ([Bound], [Merge], [Fit]) with table tests.
//
// # The ConfigMap
//
// [ConfigMapName] makes a valid and collision-free name from an untrusted
// environment name: "digitops-history-", the name sanitized and cut, and
// a hash of the whole name. The ConfigMap carries the label
// app.kubernetes.io/component=sync-history and the environment's name in
// the annotation digitops.io/environment; a ConfigMap of that name
// without the annotation, or with another environment's, is never
// overwritten. Writes are conditional on the resourceVersion last read or
// written; on a conflict (another replica wrote since) the ring reads the
// ConfigMap again and merges by start time.
//
// # Who writes
//
// Only the replica that acts writes: an entry appended with store false
// (a standby's sync) stays in this replica's memory. A ring that does not
// lead reads the ConfigMap again when asked for its entries, at most every
// [RefreshEvery], so every replica answers with the leader's history (and
// its own standby syncs).
package history
