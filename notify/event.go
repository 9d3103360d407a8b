package notify

import (
	"fmt"
	"strings"
)

// Kind is what happened.
type Kind string

// Event kinds, as digitops.yaml's notify events lists them.
const (
	// SyncStarted: a sync of a new revision began acting (commit status
	// pending; not sent to chat).
	SyncStarted Kind = "sync-started"
	// SyncSucceeded: a sync of a revision ended with every release applied.
	SyncSucceeded Kind = "sync-succeeded"
	// SyncFailed: a sync failed (a release, the load, the fetch).
	SyncFailed Kind = "sync-failed"
	// DriftDetected: drift found and left (drift: warn, or a standby).
	DriftDetected Kind = "drift-detected"
	// DriftCorrected: drift found and put back.
	DriftCorrected Kind = "drift-corrected"
	// RolloutPromoted: a rollout took a revision to a wave (or every wave
	// has it).
	RolloutPromoted Kind = "rollout-promoted"
	// RolloutHalted: a rollout stopped (a failure, a gate, an abort).
	RolloutHalted Kind = "rollout-halted"
	// NonFastForward: the watched reference was moved to a commit that
	// does not descend from the last one (a force-push): it is deployed,
	// Git being the truth, and told (not sent as a commit status).
	NonFastForward Kind = "non-fast-forward"
)

// Kinds are every event kind.
func Kinds() []Kind {
	return []Kind{SyncStarted, SyncSucceeded, SyncFailed, DriftDetected, DriftCorrected, RolloutPromoted, RolloutHalted, NonFastForward}
}

// Event is one thing to tell.
type Event struct {
	Kind        Kind   `json:"kind"`
	Environment string `json:"environment"`
	// Revision is the source revision (branch@sha1:…); Commit its hash.
	Revision string `json:"revision"`
	Commit   string `json:"commit"`
	// Releases are the releases concerned (acted on, failed, drifted).
	Releases []string `json:"releases,omitempty"`
	// Message says what happened, one line, secrets masked.
	Message string `json:"message"`
	// Drift lists drifted fields as "Kind/ns/name /path (by manager)".
	Drift []string `json:"drift,omitempty"`
	// URL links to the status page.
	URL string `json:"url,omitempty"`
}

// key is what makes two events the same notification: a sync failing
// again on the same revision, the same drift seen again.
func (e Event) key() string {
	return strings.Join([]string{string(e.Kind), e.Environment, e.Revision, strings.Join(e.Releases, ","), strings.Join(e.Drift, "\n")}, "\x00")
}

// text is the event for people (chat).
func (e Event) text() string {
	var b strings.Builder
	icon := map[Kind]string{SyncSucceeded: "✅", SyncFailed: "❌", DriftDetected: "⚠️", DriftCorrected: "🔧", SyncStarted: "⏳", RolloutPromoted: "🚀", RolloutHalted: "🛑", NonFastForward: "⏪"}[e.Kind]
	fmt.Fprintf(&b, "%s digitops %s: %s at %s", icon, e.Kind, e.Environment, shortRevision(e.Revision))
	if len(e.Releases) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(e.Releases, ", "))
	}
	if e.Message != "" {
		b.WriteString("\n" + e.Message)
	}
	for _, d := range e.Drift {
		b.WriteString("\n• " + d)
	}
	if e.URL != "" {
		b.WriteString("\n" + e.URL)
	}
	return b.String()
}

// shortRevision shortens branch@sha1:<40 hex> to branch@<7 hex>.
func shortRevision(r string) string {
	if i := strings.Index(r, "sha1:"); i >= 0 && len(r) >= i+5+7 {
		return r[:i] + r[i+5:i+5+7]
	}
	return r
}
