package history

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Trigger is what woke the sync of an entry.
type Trigger string

// Triggers.
const (
	// TriggerStart is an environment loop's first sync: the daemon
	// started, or the environment appeared in the configuration.
	TriggerStart Trigger = "start"
	// TriggerPoll is the loop's interval.
	TriggerPoll Trigger = "poll"
	// TriggerWebhook is a push a webhook announced.
	TriggerWebhook Trigger = "webhook"
	// TriggerWatch is a watch-driven drift correction: an object of a
	// release changed in the cluster.
	TriggerWatch Trigger = "watch"
	// TriggerManual is an operator's request: retry, suspend or resume.
	TriggerManual Trigger = "manual"
	// TriggerRollout is a rollout that promoted a revision to the
	// environment.
	TriggerRollout Trigger = "rollout"
	// TriggerLeader is this replica taking the Lease.
	TriggerLeader Trigger = "leader"
)

// Result is how the sync of an entry ended: the sync results of the
// status API but unchanged and suspended, which are not recorded.
type Result string

// Results.
const (
	ResultSuccess Result = "success"
	ResultFailure Result = "failure"
	ResultStandby Result = "standby"
)

// Entry is one sync that planned or failed.
type Entry struct {
	// Started is when the sync began.
	Started time.Time `json:"started"`
	// Duration is how long it took, as a Go duration string ("3.412s").
	Duration string `json:"duration"`
	// Trigger is what woke it.
	Trigger Trigger `json:"trigger"`
	// Revision is the revision synced (branch@sha1:<hex>); Commit its Git
	// commit, empty for a directory source or when the fetch failed.
	Revision string `json:"revision,omitempty"`
	Commit   string `json:"commit,omitempty"`
	// Result is success, failure or standby.
	Result Result `json:"result"`
	// Summary counts the plan's actions; nil when the sync failed before
	// it planned.
	Summary *Summary `json:"summary,omitempty"`
	// Error is the sync's error, masked where it was made, cut at
	// MaxErrorBytes; empty on success.
	Error string `json:"error,omitempty"`
	// Releases are the releases the sync acted on (every action that
	// writes, and releases in error), in plan order.
	Releases []Release `json:"releases,omitempty"`
	// MoreReleases counts the releases acted on that did not fit in
	// MaxEntryBytes.
	MoreReleases int `json:"moreReleases,omitempty"`
}

// Release is what a sync did to one release.
type Release struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Action is the plan's action (install, upgrade, record,
	// correct-drift, unlock, delete-orphans, uninstall, error).
	Action string `json:"action"`
	// Outcome is succeeded, failed or skipped.
	Outcome string `json:"outcome"`
	// Revision is the Helm revision after the action; 0 when there is
	// none (an uninstall, a failed install).
	Revision int `json:"revision,omitempty"`
	// Error is the action's error, masked where it was made, cut at
	// MaxReleaseErrorBytes.
	Error string `json:"error,omitempty"`
}

// Summary counts a plan's releases by action: the keys of plan -o json's
// summary.
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

// Document is the answer of GET /api/v1/environments/{env}/history.
type Document struct {
	Environment string `json:"environment"`
	// Entries are newest first.
	Entries []Entry `json:"entries"`
	// Error says why the history could not be read from or stored in its
	// ConfigMap at the last attempt (it is then kept in memory only);
	// empty when the last attempt worked.
	Error string `json:"error,omitempty"`
}

// Limits of one entry's text.
const (
	MaxErrorBytes        = 1024
	MaxReleaseErrorBytes = 256
)

// Acted reports whether the entry's sync acted on release.
func (e Entry) Acted(release string) bool {
	for _, r := range e.Releases {
		if r.Name == release {
			return true
		}
	}
	return false
}

// Touching returns the entries whose sync acted on release, each with
// that release alone.
func Touching(entries []Entry, release string) []Entry {
	out := []Entry{}
	for _, e := range entries {
		if !e.Acted(release) {
			continue
		}
		var mine []Release
		for _, r := range e.Releases {
			if r.Name == release {
				mine = append(mine, r)
			}
		}
		e.Releases, e.MoreReleases = mine, 0
		out = append(out, e)
	}
	return out
}

// Cut returns s cut to at most max bytes on a character boundary, with
// "…" at the end when it was cut.
func Cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const ellipsis = "…"
	n := max - len(ellipsis)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	if n <= 0 {
		return ""
	}
	return s[:n] + ellipsis
}

// size is the length of the entry's JSON.
func size(e Entry) int {
	b, err := json.Marshal(e)
	if err != nil {
		return 0
	}
	return len(b)
}

// key identifies an entry: two entries with the same key are the same
// sync (written twice when an update's answer was lost).
func (e Entry) key() string {
	return e.Started.UTC().Format(time.RFC3339Nano) + "\x00" + string(e.Trigger) + "\x00" + e.Revision
}

// Changes names a sync's writes, errors and blocked releases ("2
// upgrade, 1 error"), "none" when there were none, "-" when the sync did
// not plan (s is nil): what digitops history and the console print.
func (s *Summary) Changes() string {
	if s == nil {
		return "-"
	}
	var out []string
	for _, c := range []struct {
		n    int
		what string
	}{
		{s.Install, "install"}, {s.Upgrade, "upgrade"}, {s.Record, "record"}, {s.Correct, "correct-drift"},
		{s.Unlock, "unlock"}, {s.DeleteOrphans, "delete-orphans"}, {s.Uninstall, "uninstall"},
		{s.Error, "error"}, {s.Blocked, "blocked"},
	} {
		if c.n > 0 {
			out = append(out, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}
