package statusapi

import "time"

// Phase sums up an environment or a release.
type Phase string

// Phases. [Phase.Worse] ranks them, worst first: failing, drifted,
// out-of-sync, pending, suspended, in-sync (pending before suspended,
// unlike their order here).
const (
	PhaseFailing   Phase = "failing"
	PhaseDrifted   Phase = "drifted"
	PhaseOutOfSync Phase = "out-of-sync"
	PhaseSuspended Phase = "suspended"
	PhasePending   Phase = "pending"
	PhaseInSync    Phase = "in-sync"
)

// rank orders phases, worst first.
func (p Phase) rank() int {
	switch p {
	case PhaseFailing:
		return 0
	case PhaseDrifted:
		return 1
	case PhaseOutOfSync:
		return 2
	case PhasePending:
		return 3
	case PhaseSuspended:
		return 4
	}
	return 5
}

// Worse reports whether p is a worse phase than q.
func (p Phase) Worse(q Phase) bool { return p.rank() < q.rank() }

// Status is the body of GET /api/v1/status.
type Status struct {
	// Leader is true when this replica applies (always true without
	// leader election).
	Leader bool `json:"leader"`
	// Ready mirrors /readyz.
	Ready bool `json:"ready"`
	// Replica is the identity of the replica that answered (serve
	// --shard), empty without sharding.
	Replica string `json:"replica,omitempty"`
	// Sources are the Git sources the daemon watches.
	Sources []Source `json:"sources"`
	// Environments are sorted by name.
	Environments []Environment `json:"environments"`
	// Rollouts are the rollouts of every source, sorted by name.
	Rollouts []Rollout `json:"rollouts,omitempty"`
}

// Rollout is where one rollout stands.
type Rollout struct {
	Name string `json:"name"`
	// Source is the repository URL whose digitops.yaml declares it.
	Source string `json:"source"`
	// Revision is the revision being rolled out.
	Revision string `json:"revision"`
	// Wave is the wave (from 1) the revision has reached; Waves+1 once it
	// reached them all.
	Wave int `json:"wave"`
	// Complete is true once every wave has the revision.
	Complete bool `json:"complete"`
	// SoakLeft is how long the current wave still soaks, when it soaks.
	SoakLeft string `json:"soakLeft,omitempty"`
	// Halted says why the rollout stopped, empty when it did not.
	Halted string `json:"halted,omitempty"`
	Paused bool   `json:"paused"`
	// Summary says it in one line.
	Summary string        `json:"summary"`
	Waves   []RolloutWave `json:"waves"`
	// Error is why the rollout cannot go on (its state cannot be read or
	// stored), empty when none.
	Error string `json:"error,omitempty"`
	// GateError is why the Prometheus gate of the wave that soaks could
	// not be checked at the last look (Prometheus unreachable, a bad
	// query, a redirect refused, a response too large): the wave is not
	// promoted while it lasts. Empty when the gate was checked or none is
	// due.
	GateError string `json:"gateError,omitempty"`
}

// RolloutWave is one wave of a rollout.
type RolloutWave struct {
	Environments []RolloutEnvironment `json:"environments"`
	Soak         string               `json:"soak,omitempty"`
	// Gate is the wave's Prometheus query, with its threshold.
	Gate string `json:"gate,omitempty"`
}

// RolloutEnvironment is the commit an environment runs in a rollout.
type RolloutEnvironment struct {
	Name string `json:"name"`
	// Commit is the commit promoted to it; empty for the first wave, which
	// follows the head.
	Commit string `json:"commit,omitempty"`
	// Phase is the environment's phase.
	Phase Phase `json:"phase"`
}

// Source is one watched repository and reference.
type Source struct {
	// URL is the repository without credentials.
	URL string `json:"url"`
	// Ref is the reference as configured ("" is the remote HEAD).
	Ref string `json:"ref,omitempty"`
	// Revision is the last fetched revision.
	Revision string `json:"revision,omitempty"`
	// Environments are the environments read from this source.
	Environments []string `json:"environments"`
	// Error is the last discovery error (the configuration file could not
	// be read), empty when none.
	Error string `json:"error,omitempty"`
}

// Environment is the state of one environment.
type Environment struct {
	Name string `json:"name"`
	// Source is the repository URL it is read from.
	Source string `json:"source"`
	// Phase sums the environment up (one of the Phase constants).
	Phase Phase `json:"phase"`
	// Revision is the revision of the last sync that loaded the environment.
	Revision string `json:"revision,omitempty"`
	// Commit is the Git commit of Revision (absent for a plain directory
	// and before the first planned sync): what a rollout reads as the
	// environment's commit.
	Commit string `json:"commit,omitempty"`
	// CommitTime is that revision's committer time.
	CommitTime *time.Time `json:"commitTime,omitempty"`
	// CommitAuthor is its author's name and CommitSubject its message's
	// subject: one line each, bounded (200 characters), written by
	// whoever pushed.
	CommitAuthor  string `json:"commitAuthor,omitempty"`
	CommitSubject string `json:"commitSubject,omitempty"`
	// Suspended is true when the whole environment is suspended.
	Suspended bool `json:"suspended"`
	// Owner is the replica that syncs the environment (serve --shard),
	// empty without sharding or while it is handed over.
	Owner string `json:"owner,omitempty"`
	// OwnerError says why the owner's status could not be had (it did
	// not answer); the rest of the entry is then this replica's last view.
	OwnerError string `json:"ownerError,omitempty"`
	// LastSync is the last sync attempt, nil before the first.
	LastSync *Sync `json:"lastSync,omitempty"`
	// LastSuccess is when the last successful sync ended.
	LastSuccess *time.Time `json:"lastSuccess,omitempty"`
	// LastError is the error of the last failed sync (masked), cleared by a
	// successful one.
	LastError string `json:"lastError,omitempty"`
	// Warnings are what the last load of the environment found lenient
	// (a chart found twice, a service listed twice, an unknown module):
	// each names its file and line.
	Warnings []Warning `json:"warnings,omitempty"`
	// Releases are the environment's releases in plan order.
	Releases []Release `json:"releases"`
}

// Sync is one sync attempt.
type Sync struct {
	Started  time.Time `json:"started"`
	Duration string    `json:"duration"`
	// Result is how it ended: success, failure, unchanged, suspended,
	// standby (docs/metrics.md).
	Result SyncResult `json:"result"`
	// Revision is the revision the sync ran against.
	Revision string `json:"revision,omitempty"`
	// Summary counts the plan's actions, nil when nothing was planned
	// (the summary of plan -o json).
	Summary *Summary `json:"summary,omitempty"`
}

// Release is the state of one release.
type Release struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Phase sums the release up (one of the Phase constants).
	Phase Phase `json:"phase"`
	// Action and Reason are the last plan's decision.
	Action Action `json:"action"`
	Reason string `json:"reason,omitempty"`
	// Outcome is the last apply's outcome for this release, if it acted.
	Outcome Outcome `json:"outcome,omitempty"`
	// Revision is the live Helm revision.
	Revision int `json:"revision,omitempty"`
	// Suspended is true when this release is suspended.
	Suspended bool `json:"suspended"`
	// RolledBack is set while an operator's emergency rollback holds the
	// release (suspended until resumed).
	RolledBack *RolledBack `json:"rolledBack,omitempty"`
	// Error is the last action's error (masked).
	Error string `json:"error,omitempty"`
	// Failures counts the syncs in a row that failed to install or upgrade
	// the release to its current desired state; NextAttempt is when the
	// daemon tries it again (a new commit or a retry tries at once).
	Failures    int        `json:"failures,omitempty"`
	NextAttempt *time.Time `json:"nextAttempt,omitempty"`
	// Notes are remarks from the last action (a field that renders
	// differently on every run), shown for the sync that acted.
	Notes []string `json:"notes,omitempty"`
	// Drift lists what differs between the live objects and the release;
	// values of Secrets are masked.
	Drift []DriftItem `json:"drift,omitempty"`
}

// SyncResult is how a sync ended: success, failure, unchanged, suspended,
// standby (docs/metrics.md; the daemon's metrics.SyncResult).
type SyncResult string

// Action is a plan's decision for a release, spelled as in plan -o json
// (docs/cli.md, Plan actions; the reconciler's Action).
type Action string

// Outcome is what applying a release's step did: succeeded, failed,
// skipped, unchanged (the reconciler's Outcome).
type Outcome string

// Summary counts a plan's steps by action, with the keys of plan -o json's
// summary. It has the reconciler's Summary's fields, so that one converts
// to the other: a field added there must be added here.
type Summary struct {
	Install       int `json:"install"`
	Upgrade       int `json:"upgrade"`
	Record        int `json:"record"`
	Correct       int `json:"correct"`
	Unlock        int `json:"unlock"`
	DeleteOrphans int `json:"deleteOrphans"`
	Uninstall     int `json:"uninstall"`
	Skip          int `json:"skip"`
	Unchanged     int `json:"unchanged"`
	Error         int `json:"error"`
	Blocked       int `json:"blocked"`
}

// DriftItem is one difference between a live object and its release, as
// the reconciler finds it (Secret data and secret values masked), with the
// keys of plan -o json's drift items.
type DriftItem struct {
	// Object is Kind/namespace/name (Kind/name when cluster-scoped).
	Object string `json:"object"`
	// Path is a JSON pointer into the object, empty for a deleted object.
	Path string `json:"path,omitempty"`
	// Kind is changed, added, removed or deleted.
	Kind string `json:"kind"`
	// Before is what the release deployed, After what is live.
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	// Manager is the field manager that made the change, empty when
	// unknown.
	Manager string `json:"manager,omitempty"`
}

// Warning is something the environment's load found lenient, with the
// keys of plan -o json's warnings. It has the fields of the loader's
// manifest.Warning, which converts to it and prints it.
type Warning struct {
	// File is the file at fault, as the user named it.
	File string `json:"file"`
	// Line is the 1-based line, or 0.
	Line int `json:"line,omitempty"`
	// Release is the release concerned, or empty.
	Release string `json:"release,omitempty"`
	// Msg says what was found and what digitops did about it.
	Msg string `json:"message"`
}
