package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitops/digitops/notify"
)

// gitRepo runs git in dir.
func gitRepo(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// recorder is a notification provider that keeps what it is sent.
type recorder struct {
	mu   sync.Mutex
	sent []notify.Event
}

func (*recorder) Name() string           { return "recorder" }
func (*recorder) Wants(notify.Kind) bool { return true }
func (r *recorder) Send(_ context.Context, e notify.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, e)
	return nil
}

func (r *recorder) kinds() []notify.Kind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []notify.Kind
	for _, e := range r.sent {
		out = append(out, e.Kind)
	}
	return out
}

// TestSource_nonFastForward: a fast-forward of the watched branch is
// deployed quietly; a force-push back to an older commit, or to another
// history, is deployed too, but logged and notified.
func TestSource_nonFastForward(t *testing.T) {
	repo := t.TempDir()
	gitRepo(t, repo, "init", "-q", "-b", "main")
	commit := func(msg string) string {
		gitRepo(t, repo, "commit", "-q", "--allow-empty", "-m", msg)
		return gitRepo(t, repo, "rev-parse", "HEAD")
	}
	a := commit("a")
	b := commit("b")

	var logs bytes.Buffer
	d, err := New(Options{
		Sources:  []SourceOptions{{URL: repo, Ref: "main"}},
		CacheDir: t.TempDir(),
		Logger:   slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	s := d.sources[0]
	rec := &recorder{}
	l := newEnvLoop(d, s, "dev")
	l.providers = []notify.Provider{rec}
	s.loops["dev"] = l
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = d.notifier.Run(ctx) }()

	fetch := func() string {
		t.Helper()
		s.stale()
		snap, _, err := s.fetch(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		return snap.Commit
	}
	steps := []struct {
		name  string // what moves the branch
		move  func() string
		warns string // the move logged; "" for none
	}{
		{"first fetch", func() string { return b }, ""},
		{"fast-forward", func() string { return commit("c") }, ""},
		{"force-push back to a", func() string { gitRepo(t, repo, "reset", "-q", "--hard", a); return a }, "move=rewind"},
		{"force-push of another history", func() string {
			gitRepo(t, repo, "checkout", "-q", "--orphan", "other")
			o := commit("other root")
			gitRepo(t, repo, "branch", "-q", "-f", "main", o)
			return o
		}, "move=diverged"},
	}
	for _, st := range steps {
		logs.Reset()
		want := st.move()
		if got := fetch(); got != want {
			t.Fatalf("%s: fetched %s, want %s (the new commit is deployed)", st.name, got, want)
		}
		gotWarn := strings.Contains(logs.String(), "non-fast-forward move of the watched reference")
		if (st.warns != "") != gotWarn || !strings.Contains(logs.String(), st.warns) {
			t.Errorf("%s: logs %q, want a non-fast-forward warning: %v (%s)", st.name, logs.String(), st.warns != "", st.warns)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(rec.kinds()) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := rec.kinds(); len(got) != 2 || got[0] != notify.NonFastForward || got[1] != notify.NonFastForward {
		t.Errorf("notifications %v, want two %s", got, notify.NonFastForward)
	}
}
