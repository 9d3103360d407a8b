package rollout

import (
	"strings"
	"testing"
	"time"
)

var (
	t0    = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	waves = []Wave{
		{Environments: []string{"dev"}, Soak: time.Minute},
		{Environments: []string{"qa"}, Soak: 10 * time.Minute, Gated: true},
		{Environments: []string{"prod-a", "prod-b", "prod-c"}, MaxParallel: 2},
	}
)

const (
	oldC = "1111111111111111111111111111111111111111"
	newC = "2222222222222222222222222222222222222222"
)

// at says every named environment runs commit, in sync.
func at(commit string, envs ...string) map[string]Health {
	h := map[string]Health{}
	for _, e := range envs {
		h[e] = Health{Commit: commit, InSync: true}
	}
	return h
}

func with(h map[string]Health, env string, v Health) map[string]Health {
	h[env] = v
	return h
}

// rolled is a rollout whose old revision reached every wave.
func rolled() State {
	return State{Revision: "main@sha1:" + oldC, Commit: oldC, Wave: 3,
		Promoted: map[string]string{"qa": oldC, "prod-a": oldC, "prod-b": oldC, "prod-c": oldC}}
}

func soaking(wave int, since time.Time) State {
	st := rolled()
	st.Commit, st.Revision, st.Wave = newC, "main@sha1:"+newC, wave
	for i := 1; i <= wave && i < len(waves); i++ {
		for _, e := range waves[i].Environments {
			st.Promoted[e] = newC
		}
	}
	st.SoakSince = &since
	return st
}

func TestNext(t *testing.T) {
	everyone := []string{"dev", "qa", "prod-a", "prod-b", "prod-c"}
	tests := []struct {
		name   string
		st     State
		head   string
		health map[string]Health
		gate   string
		// unknown: the gate's query could not be run.
		unknown bool
		now     time.Time
		// wave, halted (substring), promoted (env=commit…) and the kinds
		// of the events.
		wave     int
		halted   string
		promoted string
		events   string
		soaking  bool
	}{
		{
			name: "first sight: everyone at the head, nothing to roll", st: State{}, head: oldC, health: at(oldC, everyone...), now: t0,
			wave: 3, promoted: "prod-a=1 prod-b=1 prod-c=1 qa=1", events: "started",
		},
		{
			name: "a new revision reaches the first wave only", st: rolled(), head: newC, health: at(oldC, everyone...), now: t0,
			wave: 0, promoted: "prod-a=1 prod-b=1 prod-c=1 qa=1", events: "promoted",
		},
		{
			name: "first wave in sync: the soak starts", st: func() State { s := soaking(0, t0); s.SoakSince = nil; return s }(), head: newC,
			health: with(at(oldC, everyone...), "dev", Health{Commit: newC, InSync: true}), now: t0,
			wave: 0, promoted: "prod-a=1 prod-b=1 prod-c=1 qa=1", soaking: true,
		},
		{
			name: "soak not over: wave 2 waits", st: soaking(0, t0), head: newC,
			health: with(at(oldC, everyone...), "dev", Health{Commit: newC, InSync: true}), now: t0.Add(59 * time.Second),
			wave: 0, promoted: "prod-a=1 prod-b=1 prod-c=1 qa=1", soaking: true,
		},
		{
			name: "soak over: wave 2 gets the revision", st: soaking(0, t0), head: newC,
			health: with(at(oldC, everyone...), "dev", Health{Commit: newC, InSync: true}), now: t0.Add(time.Minute),
			wave: 1, promoted: "prod-a=1 prod-b=1 prod-c=1 qa=2", events: "promoted",
		},
		{
			name: "out of sync during the soak: it starts again", st: soaking(0, t0), head: newC,
			health: with(at(oldC, everyone...), "dev", Health{Commit: newC}), now: t0.Add(2 * time.Minute),
			wave: 0, promoted: "prod-a=1 prod-b=1 prod-c=1 qa=1",
		},
		{
			name: "health unknown (a restart): the soak is kept", st: soaking(0, t0), head: newC,
			health: with(at(oldC, everyone...), "dev", Health{}), now: t0.Add(10 * time.Second),
			wave: 0, promoted: "prod-a=1 prod-b=1 prod-c=1 qa=1", soaking: true,
		},
		{
			name: "a failure in wave 1 halts: later waves stay", st: soaking(0, t0), head: newC,
			health: with(at(oldC, everyone...), "dev", Health{Commit: newC, Failed: true, Reason: "1 release(s) failed: egov-user"}), now: t0.Add(time.Hour),
			wave: 0, halted: "environment dev failed at 2222222: 1 release(s) failed: egov-user", promoted: "prod-a=1 prod-b=1 prod-c=1 qa=1", events: "halted",
		},
		{
			name: "a failure at the old revision is not this revision's", st: soaking(1, t0), head: newC,
			health: with(at(newC, "dev", "qa"), "prod-a", Health{Commit: oldC, Failed: true}), now: t0,
			wave: 1, promoted: "prod-a=1 prod-b=1 prod-c=1 qa=2", soaking: true,
		},
		{
			name: "the gate fails during the soak: halted", st: soaking(1, t0), head: newC, gate: "error rate 0.2 > 0.05",
			health: at(newC, "dev", "qa"), now: t0.Add(time.Minute),
			wave: 1, halted: "wave 2 gate: error rate 0.2 > 0.05", promoted: "prod-a=1 prod-b=1 prod-c=1 qa=2", events: "halted",
		},
		{
			name: "gate query unavailable at the soak's end: the wave waits", st: soaking(1, t0), head: newC, unknown: true,
			health: at(newC, "dev", "qa"), now: t0.Add(time.Hour),
			wave: 1, promoted: "prod-a=1 prod-b=1 prod-c=1 qa=2", soaking: true,
		},
		{
			name: "gate holds, soak over: the last wave two at a time", st: soaking(1, t0), head: newC,
			health: at(newC, "dev", "qa"), now: t0.Add(10 * time.Minute),
			wave: 2, promoted: "prod-a=2 prod-b=2 prod-c=1 qa=2", events: "promoted",
		},
		{
			name: "first batch in sync: the next batch", st: func() State {
				s := soaking(1, t0)
				s.Wave = 2
				s.SoakSince = nil
				s.Promoted["prod-a"], s.Promoted["prod-b"] = newC, newC
				return s
			}(), head: newC,
			health: with(at(newC, "dev", "qa", "prod-a", "prod-b"), "prod-c", Health{Commit: oldC, InSync: true}), now: t0,
			wave: 2, promoted: "prod-a=2 prod-b=2 prod-c=2 qa=2", events: "promoted",
		},
		{
			name: "every wave in sync: complete", st: soaking(2, t0), head: newC,
			health: at(newC, everyone...), now: t0,
			wave: 3, promoted: "prod-a=2 prod-b=2 prod-c=2 qa=2", events: "completed",
		},
		{
			name: "a newer revision mid-rollout restarts at the first wave; later waves keep theirs", st: soaking(1, t0), head: "3333333333333333333333333333333333333333",
			health: at(newC, "dev", "qa"), now: t0,
			wave: 0, promoted: "prod-a=1 prod-b=1 prod-c=1 qa=2", events: "promoted",
		},
		{
			name: "halted stays halted on the same revision", st: func() State { s := soaking(0, t0); s.Halted, s.SoakSince = "aborted by an operator", nil; return s }(), head: newC,
			health: at(newC, everyone...), now: t0.Add(time.Hour),
			wave: 0, halted: "aborted", promoted: "prod-a=1 prod-b=1 prod-c=1 qa=1",
		},
		{
			name: "paused: no promotion", st: func() State { s := soaking(0, t0); s.Paused = true; return s }(), head: newC,
			health: at(newC, everyone...), now: t0.Add(time.Hour),
			wave: 0, promoted: "prod-a=1 prod-b=1 prod-c=1 qa=1", soaking: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.st.clone()
			got, events := Next(tt.st, Input{Waves: waves, HeadRevision: "main@sha1:" + tt.head, Head: tt.head, Health: tt.health, GateFailure: tt.gate, GateUnknown: tt.unknown, Now: tt.now})
			if got.Wave != tt.wave {
				t.Errorf("wave %d, want %d", got.Wave, tt.wave)
			}
			if (tt.halted == "") != (got.Halted == "") || !strings.Contains(got.Halted, tt.halted) {
				t.Errorf("halted %q, want %q", got.Halted, tt.halted)
			}
			if p := promotedString(got); p != tt.promoted {
				t.Errorf("promoted %s, want %s", p, tt.promoted)
			}
			var kinds []string
			for _, e := range events {
				kinds = append(kinds, string(e.Kind))
			}
			if strings.Join(kinds, ",") != tt.events {
				t.Errorf("events %v, want %s", events, tt.events)
			}
			if (got.SoakSince != nil) != tt.soaking {
				t.Errorf("soaking %v, want %v", got.SoakSince != nil, tt.soaking)
			}
			if promotedString(tt.st) != promotedString(before) {
				t.Error("Next changed its input")
			}
		})
	}
}

// promotedString is "env=<first digit of its commit>…", sorted.
func promotedString(st State) string {
	var parts []string
	for _, e := range []string{"prod-a", "prod-b", "prod-c", "qa"} {
		if c, ok := st.Promoted[e]; ok {
			parts = append(parts, e+"="+c[:1])
		}
	}
	return strings.Join(parts, " ")
}

func TestAct(t *testing.T) {
	halted := soaking(0, t0)
	halted.Halted = "environment dev failed at 2222222: boom"
	st, events, err := Act(halted, waves, ActionPromote, t0)
	if err != nil || st.Wave != 1 || st.Halted != "" || st.Promoted["qa"] != newC || len(events) != 1 || events[0].Kind != Promoted {
		t.Fatalf("promote past a halt: wave %d halted %q qa %s events %v err %v", st.Wave, st.Halted, st.Promoted["qa"], events, err)
	}
	if st, _, _ = Act(st, waves, ActionAbort, t0); st.Halted != "aborted by an operator" || st.Wave != 1 {
		t.Fatalf("abort: %+v", st)
	}
	if st, _, _ = Act(st, waves, ActionPause, t0); !st.Paused {
		t.Fatal("pause did not pause")
	}
	if st, _, _ = Act(st, waves, ActionResume, t0); st.Paused {
		t.Fatal("resume did not resume")
	}
	if _, _, err := Act(rolled(), waves, ActionPromote, t0); err == nil {
		t.Fatal("promoting a revision that reached every wave is not an error")
	}
	if _, _, err := Act(rolled(), waves, "rollback", t0); err == nil {
		t.Fatal("an unknown action is not an error")
	}
	// Promote in a batched wave takes the rest of the wave with it.
	batched := soaking(1, t0)
	batched.Wave, batched.Promoted["prod-a"], batched.Promoted["prod-b"] = 2, newC, newC
	st, _, _ = Act(batched, waves, ActionPromote, t0)
	if st.Wave != 3 || st.Promoted["prod-c"] != newC {
		t.Fatalf("promote of the last wave: wave %d prod-c %s", st.Wave, st.Promoted["prod-c"])
	}
}

func TestCommitFor(t *testing.T) {
	st := soaking(1, t0)
	if _, ok := st.CommitFor(waves, "dev"); ok {
		t.Error("the first wave is pinned: it should follow the head")
	}
	if c, ok := st.CommitFor(waves, "qa"); !ok || c != newC {
		t.Errorf("qa runs %s %v, want %s", c, ok, newC)
	}
	if c, ok := st.CommitFor(waves, "prod-b"); !ok || c != oldC {
		t.Errorf("prod-b runs %s %v, want %s", c, ok, oldC)
	}
	if _, ok := st.CommitFor(waves, "sandbox"); ok {
		t.Error("an environment in no wave is pinned")
	}
	// A new environment in a later wave runs what its wave runs.
	more := append([]Wave{}, waves...)
	more[2] = Wave{Environments: []string{"prod-a", "prod-b", "prod-c", "prod-d"}}
	if c, ok := st.CommitFor(more, "prod-d"); ok {
		t.Errorf("prod-d pinned to %s before the state adopted it", c)
	}
	next, _ := Next(st, Input{Waves: more, Head: newC, HeadRevision: "main@sha1:" + newC, Health: at(newC, "dev", "qa"), Now: t0})
	if c, ok := next.CommitFor(more, "prod-d"); !ok || c != oldC {
		t.Errorf("prod-d runs %s %v, want its wave's %s", c, ok, oldC)
	}
}

func TestReach(t *testing.T) {
	for _, tt := range []struct {
		env  string
		want string // substring; "" for in no wave
	}{
		{"dev", "dev is in wave 1 of 3: a new revision reaches it at once; qa, prod-a, prod-b, prod-c wait for it"},
		{"qa", "qa is in wave 2 of 3: `digitops serve` syncs it at the revision last promoted to it, and a new revision reaches it only after wave 1 (dev) in sync for 1m0s"},
		{"prod-b", "only after wave 1 (dev) in sync for 1m0s, then wave 2 (qa) in sync for 10m0s with its Prometheus gate"},
		{"sandbox", ""},
	} {
		note, ok := Reach("egov", waves, tt.env)
		if ok != (tt.want != "") || !strings.Contains(note, tt.want) {
			t.Errorf("Reach(%s) = %q, %v; want %q", tt.env, note, ok, tt.want)
		}
	}
}

func TestSoakLeft(t *testing.T) {
	st := soaking(1, t0)
	if left, ok := st.SoakLeft(waves, t0.Add(4*time.Minute+200*time.Millisecond)); !ok || left != 6*time.Minute {
		t.Errorf("SoakLeft = %v, %v; want 6m0s of qa's 10m soak", left, ok)
	}
	if left, ok := st.SoakLeft(waves, t0.Add(time.Hour)); !ok || left != 0 {
		t.Errorf("SoakLeft after the soak = %v, %v; want 0", left, ok)
	}
	if !strings.Contains(st.Summary(waves, t0), "2222222 at wave 2 of 3, soaking (10m0s left)") {
		t.Errorf("Summary = %q", st.Summary(waves, t0))
	}
	st.SoakSince = nil
	if _, ok := st.SoakLeft(waves, t0); ok {
		t.Error("SoakLeft of a wave that does not soak")
	}
}
