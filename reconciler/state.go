package reconciler

import (
	"fmt"
	"time"

	"helm.sh/helm/v3/pkg/release"

	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// Action is what the plan does to one release.
type Action string

// The actions, as docs/cli.md names them (the action of plan -o json).
const (
	ActionInstall Action = "install"
	ActionUpgrade Action = "upgrade"
	// ActionRecord records a release's new chart and values on its
	// deployed revision, in place, when they render what is deployed: no
	// new revision, nothing in the cluster changes but Helm's record.
	ActionRecord       Action = "record"
	ActionCorrectDrift Action = "correct-drift"
	ActionUnlock       Action = "unlock"
	// ActionDeleteOrphans deletes, with prune on, the objects an unchanged
	// release adopted at its takeover and no longer renders (see Orphan).
	ActionDeleteOrphans Action = "delete-orphans"
	ActionUninstall     Action = "uninstall"
	ActionNone          Action = "none"
	// ActionSkip means the release cannot be acted on now (another
	// operation is in progress, or it belongs to someone else).
	ActionSkip Action = "skip"
	// ActionError means the release could not be loaded or rendered: the
	// reason holds the error (file, line, template); nothing is done to it
	// and a sync with an error prunes nothing.
	ActionError Action = "error"
	// ActionBlocked means the release would change but needs a release in
	// error (or one blocked itself): the reason names it.
	ActionBlocked Action = "blocked"
)

// needsChart reports whether acting on a step needs its chart: the actions
// that make a new Helm revision.
func (a Action) needsChart() bool {
	return a == ActionInstall || a == ActionUpgrade || a == ActionUnlock || a == ActionRecord
}

// Changes says whether the action changes something in the cluster.
func (a Action) Changes() bool {
	switch a {
	case ActionInstall, ActionUpgrade, ActionCorrectDrift, ActionUnlock, ActionDeleteOrphans, ActionUninstall:
		return true
	}
	return false
}

// Writes says whether acting on the action writes anything: a change to
// the cluster, or a record in Helm's storage (ActionRecord, which changes
// no object).
func (a Action) Writes() bool { return a.Changes() || a == ActionRecord }

// Desired is one release as digitops wants it, with its digests.
type Desired struct {
	Name         string
	Namespace    string
	ChartDigest  string
	ValuesDigest string
}

// Decision is what to do with one release and why (see Decide).
type Decision struct {
	Action Action
	Reason string
}

// Status is what digitops observed about one release before deciding: the
// one place a sync looks, [Decide] the one place it maps what it saw to an
// action.
type Status string

// Statuses, by what the decision does with them.
const (
	// StatusAbsent: no live release (install).
	StatusAbsent Status = "absent"
	// StatusUninstalled: uninstalled with its history kept (install).
	StatusUninstalled Status = "uninstalled"
	// StatusFailedInstall: the last install failed and nothing was ever
	// deployed (installed again, from clean).
	StatusFailedInstall Status = "failed-install"
	// StatusFailed: the last upgrade failed, or a takeover install did
	// (upgraded in place).
	StatusFailed Status = "failed"
	// StatusUnmanaged: deployed by another tool (helmfile, helm), under
	// the name digitops wants (upgraded, adopted).
	StatusUnmanaged Status = "unmanaged"
	// StatusWrittenOutside: its newest revision was written outside
	// digitops, a manual helm upgrade or rollback (upgraded).
	StatusWrittenOutside Status = "written-outside"
	// StatusOutOfSync: the chart or the values changed in Git (upgraded).
	StatusOutOfSync Status = "out-of-sync"
	// StatusConfigChanged: unchanged in Git, but a workload of its reads a
	// ConfigMap or Secret another release changes, and restarts only when
	// upgraded (its fields that render differently on every run, DIGIT's
	// deployment-timestamp, move) (upgraded).
	StatusConfigChanged Status = "config-changed"
	// StatusRenderUnchanged: the chart or the values changed in Git, but
	// they render what is deployed, fields that render differently on
	// every run aside (recorded, not upgraded).
	StatusRenderUnchanged Status = "render-unchanged"
	// StatusInstalledAlike: installed by another tool (helmfile) with the
	// chart and values Git wants, rendering what is deployed (digitops's
	// labels recorded on its revision, not upgraded).
	StatusInstalledAlike Status = "installed-alike"
	// StatusOrphaned: unchanged, but objects it adopted at its takeover are
	// no longer rendered and prune deletes them (delete-orphans).
	StatusOrphaned Status = "orphaned"
	// StatusInSync: deployed with the chart and values Git wants, and no
	// drift found (nothing to do).
	StatusInSync Status = "in-sync"
	// StatusDrifted: in sync with Git, but its live objects changed
	// (corrected or warned about, by the drift mode).
	StatusDrifted Status = "drifted"
	// StatusStuck: pending for longer than the timeout: the operation died
	// (unlocked).
	StatusStuck Status = "stuck"
	// StatusLocked: another operation is in progress (skipped).
	StatusLocked Status = "locked"
	// StatusUninstalling: being uninstalled (skipped).
	StatusUninstalling Status = "uninstalling"
	// StatusOwnedElsewhere: another digitops environment owns it (skipped).
	StatusOwnedElsewhere Status = "owned-elsewhere"
	// StatusSuspended: suspended by an operator (skipped, nothing read).
	StatusSuspended Status = "suspended"
	// StatusHeldBack: this desired state failed and waits for its next
	// attempt (skipped, nothing rendered).
	StatusHeldBack Status = "held-back"
	// StatusInvalid: it could not be loaded or rendered (error).
	StatusInvalid Status = "invalid"
	// StatusBlocked: it would change, but needs a release in error or
	// blocked itself (blocked).
	StatusBlocked Status = "blocked"
	// StatusRemoved: owned by the environment, no longer in Git
	// (uninstalled).
	StatusRemoved Status = "removed"
)

// Observation is what was observed about one release: its status, what
// was seen (the reason the decision reports) and, when drifted, the drift.
type Observation struct {
	Status Status
	// Reason says what was seen, e.g. "chart changed".
	Reason string
	// Drift is the drift found on a release otherwise in sync.
	Drift []drift.Item
}

// Decide maps what was observed about a release to what to do. It is pure,
// and the only place an action is chosen for a status; mode is the drift
// mode (a drifted release is corrected unless the mode is warn).
func Decide(o Observation, mode manifest.DriftMode) Decision {
	switch o.Status {
	case StatusAbsent, StatusUninstalled, StatusFailedInstall:
		return Decision{ActionInstall, o.Reason}
	case StatusFailed, StatusUnmanaged, StatusWrittenOutside, StatusOutOfSync, StatusConfigChanged:
		return Decision{ActionUpgrade, o.Reason}
	case StatusRenderUnchanged, StatusInstalledAlike:
		return Decision{ActionRecord, o.Reason}
	case StatusStuck:
		return Decision{ActionUnlock, o.Reason}
	case StatusOrphaned:
		return Decision{ActionDeleteOrphans, o.Reason}
	case StatusRemoved:
		return Decision{ActionUninstall, o.Reason}
	case StatusLocked, StatusUninstalling, StatusOwnedElsewhere, StatusSuspended, StatusHeldBack:
		return Decision{ActionSkip, o.Reason}
	case StatusInvalid:
		return Decision{ActionError, o.Reason}
	case StatusBlocked:
		return Decision{ActionBlocked, o.Reason}
	case StatusDrifted:
		return DecideDrift(mode, o.Drift)
	}
	return Decision{ActionNone, o.Reason}
}

// pendingMargin is how much longer than the timeout a pending operation may
// last before it counts as dead: its writer's own timeout ends it first
// (clocks and the writer's last step aside), so a live lock of another
// writer, a CLI apply beside the daemon, is never broken.
func pendingMargin(timeout time.Duration) time.Duration {
	return max(5*time.Second, timeout/10)
}

// StateInput is everything ObserveRelease looks at.
type StateInput struct {
	// Environment is the environment planning the release.
	Environment string
	// Desired is the release as Git wants it.
	Desired Desired
	// Live is the newest live revision, nil when none exists.
	Live *kube.LiveRelease
	// Now is the time of the decision.
	Now time.Time
	// PendingTimeout is how long a pending-* status may last before digitops
	// considers the operation dead and unlocks the release.
	PendingTimeout time.Duration
}

// ObserveRelease compares a desired release with its newest live revision
// and says what it sees. It is pure.
func ObserveRelease(in StateInput) Observation {
	live := in.Live
	if live == nil {
		return Observation{StatusAbsent, "not installed", nil}
	}
	if live.Environment != "" && live.Environment != in.Environment {
		return Observation{StatusOwnedElsewhere, fmt.Sprintf("owned by environment %q", live.Environment), nil}
	}
	switch live.Status {
	case release.StatusPendingInstall, release.StatusPendingUpgrade, release.StatusPendingRollback:
		age := in.Now.Sub(live.Modified)
		if age > in.PendingTimeout+pendingMargin(in.PendingTimeout) {
			return Observation{StatusStuck, fmt.Sprintf("stuck in %s for %s (revision %d)", live.Status, age.Round(time.Second), live.Version), nil}
		}
		return Observation{StatusLocked, fmt.Sprintf("another operation is in progress (%s, revision %d)", live.Status, live.Version), nil}
	case release.StatusUninstalling:
		return Observation{StatusUninstalling, "being uninstalled", nil}
	case release.StatusFailed:
		if live.LastDeployed == 0 && live.TookOver {
			return Observation{StatusFailed, fmt.Sprintf("last takeover failed (revision %d); upgraded in place, never uninstalled: it holds objects it took over", live.Version), nil}
		}
		if live.LastDeployed == 0 {
			return Observation{StatusFailedInstall, fmt.Sprintf("last install failed (revision %d)", live.Version), nil}
		}
		return Observation{StatusFailed, fmt.Sprintf("last attempt failed (revision %d)", live.Version), nil}
	case release.StatusUninstalled:
		return Observation{StatusUninstalled, "uninstalled with history kept", nil}
	}
	if live.Environment == "" {
		return Observation{StatusUnmanaged, "adopting a release digitops did not install", nil}
	}
	if live.WrittenRevision != 0 && live.WrittenRevision != live.Version {
		return Observation{StatusWrittenOutside, fmt.Sprintf("revision %d was written outside digitops (a manual helm upgrade or rollback?)", live.Version), nil}
	}
	chartChanged := live.ChartDigest != in.Desired.ChartDigest
	valuesChanged := live.ValuesDigest != in.Desired.ValuesDigest
	switch {
	case chartChanged && valuesChanged:
		return Observation{StatusOutOfSync, "chart and values changed", nil}
	case chartChanged:
		return Observation{StatusOutOfSync, "chart changed", nil}
	case valuesChanged:
		return Observation{StatusOutOfSync, "values changed", nil}
	}
	return Observation{StatusInSync, "unchanged", nil}
}
