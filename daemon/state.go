package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
)

// releaseFacts is what the phase of a release is decided from.
type releaseFacts struct {
	// Action is the plan's decision.
	Action reconciler.Action
	// Outcome is the apply's outcome; empty when the step was not applied.
	Outcome reconciler.Outcome
	// Suspended is set when the release (or its environment) is suspended.
	Suspended bool
	// Drifted is set when the plan found drift on the release.
	Drifted bool
	// Failing is set while a failed desired state waits for its next
	// attempt (see backoffs).
	Failing bool
}

// releasePhase sums a release up. It is pure.
func releasePhase(f releaseFacts) statusapi.Phase {
	switch {
	case f.Suspended:
		return statusapi.PhaseSuspended
	case f.Outcome == reconciler.OutcomeFailed, f.Action == reconciler.ActionError, f.Failing:
		return statusapi.PhaseFailing
	case f.Drifted && f.Outcome != reconciler.OutcomeSucceeded:
		return statusapi.PhaseDrifted
	case f.Outcome == reconciler.OutcomeSucceeded, f.Action == reconciler.ActionNone:
		return statusapi.PhaseInSync
	case f.Action == reconciler.ActionSkip:
		return statusapi.PhasePending
	}
	return statusapi.PhaseOutOfSync
}

// environmentPhase sums an environment up from its last sync and its
// releases: the worst of them. It is pure.
func environmentPhase(st statusapi.Environment) statusapi.Phase {
	switch {
	case st.Suspended:
		return statusapi.PhaseSuspended
	case st.LastError != "":
		return statusapi.PhaseFailing
	case st.LastSync == nil:
		return statusapi.PhasePending
	}
	worst := statusapi.PhaseInSync
	for _, r := range st.Releases {
		if r.Phase.Worse(worst) {
			worst = r.Phase
		}
	}
	if worst == statusapi.PhaseSuspended {
		return statusapi.PhaseInSync // some releases suspended, the rest in sync
	}
	return worst
}

// fingerprint digests the live releases that matter to an environment:
// those it owns and those it declares (names maps release names to
// namespaces). A Helm action anywhere among them changes it.
func fingerprint(live kube.LiveState, env string, names map[string]string) string {
	keys := make([]string, 0, len(names))
	for key, l := range live {
		if l.Environment == env || names[l.Name] == l.Namespace {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, key := range keys {
		l := live[key]
		fmt.Fprintf(h, "%s\x00%d\x00%s\x00%s\x00%s\n", key, l.Version, l.Status, l.ChartDigest, l.ValuesDigest)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// jittered spreads d by ±jitter of it (no spread when jitter <= 0).
func jittered(d time.Duration, jitter float64) time.Duration {
	if jitter <= 0 || d <= 0 {
		return d
	}
	f := 1 + jitter*(2*rand.Float64()-1)
	return time.Duration(float64(d) * f)
}
