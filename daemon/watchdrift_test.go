package daemon

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/metrics"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/source/manifest"
)

// newTestLoop is an environment loop with no source, enough for the
// bookkeeping of watch-driven drift.
func newTestLoop(t *testing.T) *envLoop {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := &Daemon{
		opts:    Options{DriftDebounce: time.Second, DriftInterval: 5 * time.Minute},
		log:     log,
		metrics: metrics.New(prometheus.NewRegistry()),
	}
	l := &envLoop{d: d, name: "dev", log: log}
	l.drift = newDriftWorker(l)
	return l
}

func TestClaim_oneActorPerRelease(t *testing.T) {
	l := newTestLoop(t)
	if !l.drift.claim([]string{"egov-user", "egov-mdms"}, actorFullSync) {
		t.Fatal("the full sync could not claim free releases")
	}
	if l.drift.claim([]string{"egov-user"}, actorWatch) {
		t.Fatal("the drift worker claimed a release the full sync acts on")
	}
	if l.drift.claim([]string{"egov-persister", "egov-mdms"}, actorWatch) {
		t.Fatal("the drift worker claimed a set with one release held by the full sync")
	}
	if _, marked := l.drift.acting["egov-persister"]; marked {
		t.Fatal("a refused claim marked a release: claims are all or none")
	}
	// The worker ending marks it does not hold leaves the full sync's.
	l.drift.unclaim([]string{"egov-user"}, actorWatch)
	if l.drift.acting["egov-user"] != actorFullSync {
		t.Fatal("the drift worker cleared the full sync's mark")
	}
	epoch := l.drift.actedEpoch
	l.drift.unclaim([]string{"egov-user", "egov-mdms"}, actorFullSync)
	if len(l.drift.acting) != 0 {
		t.Fatalf("marks left after the full sync let go: %v", l.drift.acting)
	}
	if l.drift.actedEpoch != epoch+1 {
		t.Fatal("the full sync letting go did not move the epoch: a drift check planned before it would act on stale state")
	}
	select {
	case <-l.drift.wake:
	default:
		t.Fatal("the full sync letting go did not wake the drift worker")
	}
	if !l.drift.claim([]string{"egov-user"}, actorWatch) {
		t.Fatal("the drift worker could not claim a freed release")
	}
}

func TestClaimWait_waitsForTheDriftWorker(t *testing.T) {
	l := newTestLoop(t)
	if !l.drift.claim([]string{"egov-user"}, actorWatch) {
		t.Fatal("claim failed")
	}
	done := make(chan error, 1)
	go func() { done <- l.drift.claimWait(context.Background(), []string{"egov-user"}, actorFullSync) }()
	select {
	case err := <-done:
		t.Fatalf("the full sync claimed a release the drift worker corrects (err %v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	l.drift.unclaim([]string{"egov-user"}, actorWatch)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the full sync still waits after the drift worker let go")
	}
	if l.drift.acting["egov-user"] != actorFullSync {
		t.Fatal("the full sync does not hold the release after waiting")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.drift.claimWait(ctx, []string{"egov-user"}, actorWatch); err == nil {
		t.Fatal("claimWait returned no error on a cancelled context while the release was held")
	}
}

func TestNoteFights_backoffOutlivesTheWindow(t *testing.T) {
	l := newTestLoop(t)
	st := &reconciler.Step{
		Release: manifest.ReleaseSpec{Name: "egov-config", Namespace: "egov"},
		Drift:   []drift.Item{{Object: "ConfigMap/egov/egov-config", Path: "/data/timezone", Kind: drift.Changed, Manager: "fighter"}},
	}
	now := time.Now()
	var holds []time.Duration
	for i := range 8 {
		l.drift.noteFights(st, now)
		hold := l.drift.holdUntil["egov-config"].Sub(now)
		if i+1 < fightThreshold && hold > 0 {
			t.Fatalf("correction %d: held back %v before a fight", i+1, hold)
		}
		if i+1 >= fightThreshold {
			holds = append(holds, hold)
		}
		// The fighter undoes the correction as soon as the hold ends.
		now = now.Add(max(hold, time.Second))
	}
	for i := 1; i < len(holds); i++ {
		if holds[i] < holds[i-1] {
			t.Fatalf("the backoff went back from %v to %v: holds %v", holds[i-1], holds[i], holds)
		}
	}
	if last := holds[len(holds)-1]; last <= fightWindow {
		t.Fatalf("the backoff never grew past the fight window (%v): holds %v", fightWindow, holds)
	}
	if notes := l.drift.fightNotesOf("egov-config"); len(notes) != 1 {
		t.Fatalf("fight notes during a long hold = %q, want one", notes)
	}

	// Quiet for the window after the hold: the fight is over.
	l.drift.noteFights(st, now.Add(l.drift.holdUntil["egov-config"].Sub(now)+fightWindow+time.Second))
	if _, held := l.drift.holdUntil["egov-config"]; held {
		t.Fatal("a correction after a quiet window is still held back")
	}
}

func TestRecord_keepsANewerWatchDrivenStatus(t *testing.T) {
	l := newTestLoop(t)
	l.failed, l.releases = backoffs{}, map[string]string{}
	drifted := reconciler.Step{
		Release: manifest.ReleaseSpec{Name: "egov-user", Namespace: "egov"},
		Action:  reconciler.ActionNone,
		Drift:   []drift.Item{{Object: "Deployment/egov/egov-user", Path: "/spec/replicas", Kind: drift.Changed, Before: "1", After: "3"}},
	}
	plan := &reconciler.Plan{Environment: "dev", Steps: []reconciler.Step{drifted}}
	started := time.Now()
	// A watch-driven check corrected the release while the full sync ran.
	l.status.Releases = []statusapi.Release{{Name: "egov-user", Namespace: "egov", Phase: statusapi.PhaseInSync}}
	l.watchedAt = map[string]time.Time{"egov-user": started.Add(time.Second)}
	l.record(plan, nil, nil, true, manifest.SyncPolicy{}, started)
	if got := l.status.Releases[0]; got.Phase != statusapi.PhaseInSync || len(got.Drift) != 0 {
		t.Fatalf("the full sync's older findings overwrote the watch-driven status: phase %s, drift %v", got.Phase, got.Drift)
	}
	// A full sync that started after the check reports what it found.
	l.record(plan, nil, nil, true, manifest.SyncPolicy{}, started.Add(2*time.Second))
	if got := l.status.Releases[0]; got.Phase != statusapi.PhaseDrifted || len(got.Drift) != 1 {
		t.Fatalf("a later full sync's findings were not recorded: phase %s, drift %v", got.Phase, got.Drift)
	}
}

func TestDuePending_oneTimerForTheEarliestHold(t *testing.T) {
	l := newTestLoop(t)
	now := time.Now()
	l.drift.pending = map[string]time.Time{"egov-user": now, "egov-mdms": now, "egov-config": now}
	l.drift.holdUntil = map[string]time.Time{"egov-user": now.Add(300 * time.Millisecond), "egov-mdms": now.Add(80 * time.Millisecond)}
	for range 5 { // every wake during the holds
		names, _ := l.drift.duePending(now)
		if len(names) > 1 || (len(names) == 1 && names[0] != "egov-config") {
			t.Fatalf("due %v while egov-user and egov-mdms are held", names)
		}
	}
	if !l.drift.holdWake.Equal(now.Add(80 * time.Millisecond)) {
		t.Fatalf("timer armed for %v, want the earliest hold's end %v", l.drift.holdWake.Sub(now), 80*time.Millisecond)
	}
	select {
	case <-l.drift.wake:
	case <-time.After(2 * time.Second):
		t.Fatal("the drift worker was not woken when the earliest hold ended")
	}
	if names, _ := l.drift.duePending(now.Add(100 * time.Millisecond)); len(names) != 1 || names[0] != "egov-mdms" {
		t.Fatalf("due after the first hold: %v, want egov-mdms", names)
	}
	if !l.drift.holdWake.Equal(now.Add(300 * time.Millisecond)) {
		t.Fatalf("timer re-armed for %v, want the next hold's end", l.drift.holdWake.Sub(now))
	}
}

// TestClaim_operatorRollback: an operator's rollback excludes the full
// sync, the drift worker and another rollback; letting go makes a drift
// check planned before it stale, as the full sync's does.
func TestClaim_operatorRollback(t *testing.T) {
	l := newTestLoop(t)
	if !l.drift.claim([]string{"egov-user"}, actorOperator) {
		t.Fatal("a rollback could not claim a free release")
	}
	for _, who := range []actor{actorFullSync, actorWatch, actorOperator} {
		if l.drift.claim([]string{"egov-user"}, who) {
			t.Fatalf("actor %d claimed a release a rollback holds", who)
		}
	}
	epoch := l.drift.actedEpoch
	l.drift.unclaim([]string{"egov-user"}, actorOperator)
	if len(l.drift.acting) != 0 || l.drift.actedEpoch != epoch+1 {
		t.Fatalf("after the rollback let go: marks %v, epoch %d → %d; want none, moved on", l.drift.acting, epoch, l.drift.actedEpoch)
	}
	if !l.drift.claim([]string{"egov-user"}, actorFullSync) {
		t.Fatal("the full sync could not claim the release after the rollback")
	}
	if l.drift.claim([]string{"egov-user"}, actorOperator) {
		t.Fatal("a rollback claimed a release the full sync acts on")
	}
}
