package rollout

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Wave is one wave of a rollout, its environments resolved.
type Wave struct {
	Environments []string
	// Soak is how long the wave must stay in sync before the next wave.
	Soak time.Duration
	// MaxParallel rolls the wave that many environments at a time; 0: all.
	MaxParallel int
	// Gated is set when the wave has a Prometheus query to hold over the
	// soak (the caller evaluates it; see Input.GateFailure).
	Gated bool
}

// State is where a rollout stands; the daemon stores it as JSON.
type State struct {
	// Revision and Commit are the revision being rolled out.
	Revision string `json:"revision"`
	Commit   string `json:"commit"`
	// Wave is the index of the wave the revision has reached; the number
	// of waves when it reached them all.
	Wave int `json:"wave"`
	// Promoted is the commit each environment of a later wave runs. The
	// first wave follows the head of the repository.
	Promoted map[string]string `json:"promoted"`
	// SoakSince is when every environment of the wave was last found in
	// sync at the revision, since when they stayed so.
	SoakSince *time.Time `json:"soakSince,omitempty"`
	// Halted says why the rollout stopped (a failed environment, a failed
	// gate, an abort); later waves stay where they are until the next
	// revision.
	Halted string `json:"halted,omitempty"`
	// Paused holds promotions until resumed.
	Paused bool `json:"paused,omitempty"`
	// Updated is when the state last changed.
	Updated time.Time `json:"updated"`
}

// Health is what an environment's last sync says, at which commit.
type Health struct {
	// Commit is the commit of its last sync; empty when it has not synced
	// since the daemon started (its health is unknown).
	Commit string
	// InSync: every release in sync, none failed, workloads ready.
	InSync bool
	// Failed: the sync failed; Reason says why.
	Failed bool
	Reason string
}

// Input is what Next decides from.
type Input struct {
	Waves []Wave
	// Head is the revision at the head of the repository.
	HeadRevision, Head string
	Health             map[string]Health
	// GateFailure, when the current wave is soaking and gated, says why its
	// query does not hold ("" when it holds): the rollout halts.
	GateFailure string
	// GateUnknown is set when the query could not be run: the wave keeps
	// soaking but is not promoted.
	GateUnknown bool
	Now         time.Time
}

// EventKind is what happened to a rollout.
type EventKind string

const (
	Started   EventKind = "started"
	Promoted  EventKind = "promoted"
	Halted    EventKind = "halted"
	Completed EventKind = "completed"
	Paused    EventKind = "paused"
	Resumed   EventKind = "resumed"
	Aborted   EventKind = "aborted"
)

// Event is one thing that happened, for logs, metrics and notifications.
type Event struct {
	Kind         EventKind
	Wave         int // index
	Environments []string
	Revision     string
	Message      string
}

// Next moves the rollout on: a new head restarts it at the first wave; a
// wave whose environments all run the revision in sync for its soak (and
// hold its gate) promotes the revision to the next wave, a batch at a time
// with MaxParallel; an environment that fails at the revision, or a gate
// that does not hold, halts it.
func Next(st State, in Input) (State, []Event) {
	st = st.clone()
	var events []Event
	if st.Promoted == nil {
		// First sight: every environment is taken to run the head; gating
		// starts with the next revision.
		st = State{Revision: in.HeadRevision, Commit: in.Head, Wave: len(in.Waves), Promoted: map[string]string{}, Updated: in.Now}
		for _, w := range in.Waves[1:] {
			for _, e := range w.Environments {
				st.Promoted[e] = in.Head
			}
		}
		return st, []Event{{Kind: Started, Revision: in.HeadRevision, Message: "every environment starts at the head; the next revision is rolled out wave by wave"}}
	}
	st.adopt(in.Waves)
	if in.Head != "" && in.Head != st.Commit {
		st.Revision, st.Commit, st.Wave, st.SoakSince, st.Halted, st.Updated = in.HeadRevision, in.Head, 0, nil, "", in.Now
		events = append(events, Event{Kind: Promoted, Wave: 0, Environments: in.Waves[0].Environments, Revision: st.Revision, Message: "new revision: the first wave takes it"})
	}
	if st.Halted != "" || st.Paused || st.Wave >= len(in.Waves) {
		return st, events
	}
	w := in.Waves[st.Wave]
	var running, waiting []string
	for _, e := range w.Environments {
		if st.Wave == 0 || st.Promoted[e] == st.Commit {
			running = append(running, e)
		} else {
			waiting = append(waiting, e)
		}
	}
	healthy := true
	for _, e := range running {
		h := in.Health[e]
		if h.Commit == "" {
			// Not synced yet (a daemon just started): wait, and keep a
			// soak in progress.
			return st, events
		}
		if h.Commit != st.Commit {
			healthy = false
			continue
		}
		if h.Failed {
			st.Halted, st.SoakSince, st.Updated = fmt.Sprintf("environment %s failed at %s: %s", e, short(st.Commit), h.Reason), nil, in.Now
			return st, append(events, Event{Kind: Halted, Wave: st.Wave, Environments: []string{e}, Revision: st.Revision, Message: st.Halted})
		}
		healthy = healthy && h.InSync
	}
	if !healthy {
		if st.SoakSince != nil {
			st.SoakSince, st.Updated = nil, in.Now // the soak starts again once all are in sync
		}
		return st, events
	}
	if len(waiting) > 0 {
		batch := waiting[:batchSize(w, len(waiting))]
		st.promote(batch, in.Now)
		return st, append(events, Event{Kind: Promoted, Wave: st.Wave, Environments: batch, Revision: st.Revision, Message: fmt.Sprintf("next %d of wave %d", len(batch), st.Wave+1)})
	}
	if st.SoakSince == nil {
		now := in.Now
		st.SoakSince, st.Updated = &now, in.Now
	}
	if w.Gated && in.GateFailure != "" {
		st.Halted, st.SoakSince, st.Updated = fmt.Sprintf("wave %d gate: %s", st.Wave+1, in.GateFailure), nil, in.Now
		return st, append(events, Event{Kind: Halted, Wave: st.Wave, Environments: w.Environments, Revision: st.Revision, Message: st.Halted})
	}
	if in.Now.Sub(*st.SoakSince) < w.Soak || (w.Gated && in.GateUnknown) {
		return st, events
	}
	return st.advance(in.Waves, in.Now, events, fmt.Sprintf("wave %d stayed in sync for %s", st.Wave+1, w.Soak))
}

// Action is an operator's request.
type Action string

const (
	ActionPromote Action = "promote"
	ActionPause   Action = "pause"
	ActionResume  Action = "resume"
	ActionAbort   Action = "abort"
)

// Act applies an operator's action: promote takes the revision to the
// next wave now (past a halt, a soak or a gate); pause holds promotions,
// resume lets them go on; abort halts the rollout where it is.
func Act(st State, waves []Wave, a Action, now time.Time) (State, []Event, error) {
	st = st.clone()
	if st.Promoted == nil {
		return st, nil, fmt.Errorf("the rollout has not started")
	}
	st.adopt(waves)
	switch a {
	case ActionPromote:
		if st.Wave >= len(waves) {
			return st, nil, fmt.Errorf("revision %s already reached every wave", short(st.Commit))
		}
		st.Halted = ""
		// Environments of the current wave still waiting for their batch
		// get it now, with the next wave.
		var rest []string
		for _, e := range waves[st.Wave].Environments {
			if st.Wave > 0 && st.Promoted[e] != st.Commit {
				rest = append(rest, e)
			}
		}
		st.promote(rest, now)
		st, events := st.advance(waves, now, nil, "promoted by an operator")
		return st, events, nil
	case ActionPause:
		st.Paused, st.Updated = true, now
		return st, []Event{{Kind: Paused, Wave: st.Wave, Revision: st.Revision, Message: "paused by an operator"}}, nil
	case ActionResume:
		st.Paused, st.Updated = false, now
		return st, []Event{{Kind: Resumed, Wave: st.Wave, Revision: st.Revision, Message: "resumed by an operator"}}, nil
	case ActionAbort:
		st.Halted, st.SoakSince, st.Updated = "aborted by an operator", nil, now
		return st, []Event{{Kind: Aborted, Wave: st.Wave, Revision: st.Revision, Message: st.Halted}}, nil
	}
	return st, nil, fmt.Errorf("unknown action %q (want promote, pause, resume or abort)", a)
}

// CommitFor returns the commit an environment runs: for the first wave
// (and environments in no wave) ok is false: they follow the head.
func (st State) CommitFor(waves []Wave, env string) (commit string, ok bool) {
	for i, w := range waves {
		if slices.Contains(w.Environments, env) {
			if i == 0 {
				return "", false
			}
			c, ok := st.Promoted[env]
			return c, ok && c != ""
		}
	}
	return "", false
}

// advance moves the revision to the next wave (its first batch).
func (st State) advance(waves []Wave, now time.Time, events []Event, why string) (State, []Event) {
	st.Wave++
	st.SoakSince, st.Updated = nil, now
	if st.Wave >= len(waves) {
		return st, append(events, Event{Kind: Completed, Wave: st.Wave - 1, Revision: st.Revision, Message: why + "; every wave has the revision"})
	}
	w := waves[st.Wave]
	batch := w.Environments[:batchSize(w, len(w.Environments))]
	st.promote(batch, now)
	return st, append(events, Event{Kind: Promoted, Wave: st.Wave, Environments: batch, Revision: st.Revision, Message: why})
}

func (st *State) promote(envs []string, now time.Time) {
	for _, e := range envs {
		st.Promoted[e] = st.Commit
	}
	if len(envs) > 0 {
		st.Updated = now
	}
}

// adopt gives environments added to a later wave since the state was
// stored the commit of the wave's others (or the rolled-out one when the
// revision is past that wave), and forgets environments no longer in any.
func (st *State) adopt(waves []Wave) {
	in := map[string]bool{}
	for i, w := range waves {
		for _, e := range w.Environments {
			in[e] = true
			if i == 0 {
				continue
			}
			if _, ok := st.Promoted[e]; ok {
				continue
			}
			commit := st.Commit
			if i > st.Wave {
				for _, o := range w.Environments {
					if c, ok := st.Promoted[o]; ok {
						commit = c
						break
					}
				}
			}
			st.Promoted[e] = commit
		}
	}
	for e := range st.Promoted {
		if !in[e] {
			delete(st.Promoted, e)
		}
	}
}

func (st State) clone() State {
	if st.Promoted != nil {
		st.Promoted = maps.Clone(st.Promoted)
	}
	if st.SoakSince != nil {
		t := *st.SoakSince
		st.SoakSince = &t
	}
	return st
}

func batchSize(w Wave, waiting int) int {
	if w.MaxParallel > 0 && w.MaxParallel < waiting {
		return w.MaxParallel
	}
	return waiting
}

// short is a commit's first 7 hex digits.
func short(commit string) string {
	if len(commit) > 7 {
		return commit[:7]
	}
	return commit
}

// SoakLeft is how long the current wave still soaks, to the second; ok is
// false when it does not soak.
func (st State) SoakLeft(waves []Wave, now time.Time) (left time.Duration, ok bool) {
	if st.SoakSince == nil || st.Wave >= len(waves) {
		return 0, false
	}
	return max(waves[st.Wave].Soak-now.Sub(*st.SoakSince), 0).Round(time.Second), true
}

// Summary says in one line where the rollout stands, for plan and status.
func (st State) Summary(waves []Wave, now time.Time) string {
	var b strings.Builder
	switch {
	case st.Promoted == nil:
		return "not started"
	case st.Wave >= len(waves):
		fmt.Fprintf(&b, "%s reached every wave", short(st.Commit))
	default:
		fmt.Fprintf(&b, "%s at wave %d of %d", short(st.Commit), st.Wave+1, len(waves))
		if left, ok := st.SoakLeft(waves, now); ok {
			fmt.Fprintf(&b, ", soaking (%s left)", left)
		}
	}
	if st.Paused {
		b.WriteString(", paused")
	}
	if st.Halted != "" {
		b.WriteString(", halted: " + st.Halted)
	}
	return b.String()
}
