package reconciler

import (
	"fmt"
	"time"

	"helm.sh/helm/v3/pkg/release"
)

// Action is what the plan does to one release.
type Action string

// The actions, as docs/cli.md names them (the action of plan -o json).
const (
	ActionInstall      Action = "install"
	ActionUpgrade      Action = "upgrade"
	ActionCorrectDrift Action = "correct-drift"
	ActionUnlock       Action = "unlock"
	ActionRollback     Action = "rollback"
	ActionUninstall    Action = "uninstall"
	ActionNone         Action = "none"
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

// Changes says whether the action changes something in the cluster.
func (a Action) Changes() bool {
	switch a {
	case ActionInstall, ActionUpgrade, ActionCorrectDrift, ActionUnlock, ActionRollback, ActionUninstall:
		return true
	}
	return false
}

// Desired is one release as digitops wants it, with its digests.
type Desired struct {
	Name         string
	Namespace    string
	ChartDigest  string
	ValuesDigest string
}

// ReleaseState is the decision for one release and why.
type ReleaseState struct {
	Action Action
	Reason string
}

// StateInput is everything DetermineReleaseState looks at.
type StateInput struct {
	// Environment is the environment planning the release.
	Environment string
	// Desired is the release as Git wants it.
	Desired Desired
	// Live is the newest live revision, nil when none exists.
	Live *LiveRelease
	// Now is the time of the decision.
	Now time.Time
	// PendingTimeout is how long a pending-* status may last before digitops
	// considers the operation dead and unlocks the release.
	PendingTimeout time.Duration
}

// DetermineReleaseState decides what to do with one release. It is pure.
func DetermineReleaseState(in StateInput) ReleaseState {
	live := in.Live
	if live == nil {
		return ReleaseState{ActionInstall, "not installed"}
	}
	if live.Environment != "" && live.Environment != in.Environment {
		return ReleaseState{ActionSkip, fmt.Sprintf("owned by environment %q", live.Environment)}
	}
	switch live.Status {
	case release.StatusPendingInstall, release.StatusPendingUpgrade, release.StatusPendingRollback:
		age := in.Now.Sub(live.Modified)
		if age > in.PendingTimeout {
			return ReleaseState{ActionUnlock, fmt.Sprintf("stuck in %s for %s (revision %d)", live.Status, age.Round(time.Second), live.Version)}
		}
		return ReleaseState{ActionSkip, fmt.Sprintf("another operation is in progress (%s, revision %d)", live.Status, live.Version)}
	case release.StatusUninstalling:
		return ReleaseState{ActionSkip, "being uninstalled"}
	case release.StatusFailed:
		if live.LastDeployed == 0 && live.TookOver {
			return ReleaseState{ActionUpgrade, fmt.Sprintf("last takeover failed (revision %d); upgraded in place, never uninstalled: it holds objects it took over", live.Version)}
		}
		if live.LastDeployed == 0 {
			return ReleaseState{ActionInstall, fmt.Sprintf("last install failed (revision %d)", live.Version)}
		}
		return ReleaseState{ActionUpgrade, fmt.Sprintf("last attempt failed (revision %d)", live.Version)}
	case release.StatusUninstalled:
		return ReleaseState{ActionInstall, "uninstalled with history kept"}
	}
	if live.Environment == "" {
		return ReleaseState{ActionUpgrade, "adopting a release digitops did not install"}
	}
	if live.WrittenRevision != 0 && live.WrittenRevision != live.Version {
		return ReleaseState{ActionUpgrade, fmt.Sprintf("revision %d was written outside digitops (a manual helm upgrade or rollback?)", live.Version)}
	}
	chartChanged := live.ChartDigest != in.Desired.ChartDigest
	valuesChanged := live.ValuesDigest != in.Desired.ValuesDigest
	switch {
	case chartChanged && valuesChanged:
		return ReleaseState{ActionUpgrade, "chart and values changed"}
	case chartChanged:
		return ReleaseState{ActionUpgrade, "chart changed"}
	case valuesChanged:
		return ReleaseState{ActionUpgrade, "values changed"}
	}
	return ReleaseState{ActionNone, "unchanged"}
}
