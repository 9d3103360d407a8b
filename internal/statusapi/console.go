package statusapi

import "time"

// EnvironmentDetail is the body of GET /api/v1/environments/{env}: the
// environment's status and what its next sync would change.
type EnvironmentDetail struct {
	Environment
	// Pending are the changes the last plan found that were not carried
	// out (the sync failed, skipped, stood by, was suspended or held the
	// release back): what the next sync would change. Empty when the
	// environment is in sync.
	Pending []PendingChange `json:"pending"`
}

// PendingChange is one release's change not carried out yet.
type PendingChange struct {
	Release   string `json:"release"`
	Namespace string `json:"namespace"`
	// Action and Reason are the plan's.
	Action Action `json:"action"`
	Reason string `json:"reason,omitempty"`
	// Inputs are the inputs that moved the release's render (an
	// environment-file key, a chart file), when the plan knows them.
	Inputs []string `json:"inputs,omitempty"`
	// Diff is the object diff of the change as the plan prints it,
	// secret values masked; empty for an install of many objects or
	// when none was computed.
	Diff string `json:"diff,omitempty"`
}

// ReleaseDetail is the body of GET
// /api/v1/environments/{env}/releases/{release}.
type ReleaseDetail struct {
	Environment string `json:"environment"`
	// Release is the release's status row, as in the environment's.
	Release Release `json:"release"`
	// Chart is "name-version" of the live revision, AppVersion its
	// appVersion; Images the images its manifest runs.
	Chart      string   `json:"chart,omitempty"`
	AppVersion string   `json:"appVersion,omitempty"`
	Images     []string `json:"images,omitempty"`
	// Needs are the releases it waits for, Dependants those that wait
	// for it (the last plan's order).
	Needs      []string `json:"needs,omitempty"`
	Dependants []string `json:"dependants,omitempty"`
	// Revisions are its Helm revisions, newest first, read from Helm's
	// storage.
	Revisions []HelmRevision `json:"revisions"`
	// Adopted are the live objects its install took over; Orphans the
	// objects of its deployed revision its render no longer has.
	Adopted []string `json:"adopted,omitempty"`
	Orphans []string `json:"orphans,omitempty"`
	// RolledBack is set while an operator's emergency rollback holds the
	// release (suspended until resumed).
	RolledBack *RolledBack `json:"rolledBack,omitempty"`
}

// HelmRevision is one revision of a release in Helm's storage.
type HelmRevision struct {
	Revision int `json:"revision"`
	// Updated is when Helm last wrote it; Status Helm's status
	// (deployed, superseded, failed, pending-upgrade, …); Description
	// Helm's ("Upgrade complete", "Rollback to 3").
	Updated     time.Time `json:"updated"`
	Status      string    `json:"status"`
	Description string    `json:"description,omitempty"`
	Chart       string    `json:"chart,omitempty"`
	// Commit is the Git commit it came from and Replica the replica of
	// serve --shard that wrote it, from digitops's labels (absent on a
	// revision digitops did not write).
	Commit  string `json:"commit,omitempty"`
	Replica string `json:"replica,omitempty"`
}

// RolledBack is an emergency rollback by an operator: the release was
// rolled back to revision To at At and is suspended until resumed.
type RolledBack struct {
	To int       `json:"to"`
	At time.Time `json:"at"`
}
