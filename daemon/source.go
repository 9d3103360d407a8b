package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/digitops/digitops/daemon/history"
	"github.com/digitops/digitops/daemon/rollouts"
	"github.com/digitops/digitops/notify"
	"github.com/digitops/digitops/source/git"
	"github.com/digitops/digitops/source/manifest/loader"
)

// fetcher is what a source needs from source/git.
type fetcher interface {
	Fetch(ctx context.Context, lastObserved string) (git.Snapshot, bool, error)
}

var _ fetcher = (*git.Client)(nil)

// ancestry tells how a Git source's reference moved; a plain directory
// has none.
type ancestry interface {
	Ancestry(ctx context.Context, from, to string) (git.Move, error)
}

var _ ancestry = (*git.Client)(nil)

// coalesceWindow: fetches of one source closer together than this share one
// result (environments of one repository woken by the same push).
const coalesceWindow = time.Second

// source is one watched repository and reference, shared by the
// environments read from it.
type source struct {
	opts    SourceOptions
	url     string // sanitized
	fetcher fetcher
	poke    chan struct{} // wakes discovery and, through it, the loops

	mu        sync.Mutex
	fetchedAt time.Time
	snap      git.Snapshot
	names     []string // environments discovered
	err       string   // last discovery error
	loops     map[string]*envLoop
	debounce  *time.Timer
	burst     time.Time // when the first trigger of the pending wake came
	// head is the last commit fetched (or, before the first fetch, the
	// one an earlier process left in the cache).
	head string
	// moved, when set, is told when a fetch finds the reference on
	// another commit than head.
	moved func(ctx context.Context, from string, to git.Snapshot)
}

func newSource(opts SourceOptions, cacheDir string, log *slog.Logger) (*source, error) {
	s := &source{opts: opts, poke: make(chan struct{}, 1), loops: map[string]*envLoop{}}
	client, err := git.New(git.Options{URL: opts.URL, Ref: git.ParseRef(opts.Ref), CacheDir: cacheDir, Auth: opts.Auth, Logger: log})
	switch {
	case errors.Is(err, git.ErrNotGitRepository):
		abs, aerr := filepath.Abs(opts.URL)
		if aerr != nil {
			return nil, aerr
		}
		s.fetcher, s.url = dirSource{dir: abs}, abs
	case err != nil:
		return nil, err
	default:
		s.fetcher, s.url = client, git.SanitizeURL(opts.URL)
		if good, ok := client.LastGood(); ok {
			s.head = good.Commit
		}
	}
	return s, nil
}

// fetch brings the source up to date, sharing the result with fetches made
// less than coalesceWindow ago. changed is relative to last.
func (s *source) fetch(ctx context.Context, last string) (git.Snapshot, bool, error) {
	s.mu.Lock()
	if !s.fetchedAt.IsZero() && time.Since(s.fetchedAt) < coalesceWindow && s.snap.Dir != "" {
		snap := s.snap
		s.mu.Unlock()
		return snap, snap.Commit != last, nil
	}
	s.mu.Unlock()
	snap, _, err := s.fetcher.Fetch(ctx, last)
	if err != nil {
		return snap, false, err
	}
	s.mu.Lock()
	s.snap, s.fetchedAt = snap, time.Now()
	from := s.head
	if snap.Commit != "" {
		s.head = snap.Commit
	}
	moved := s.moved
	s.mu.Unlock()
	if moved != nil && from != "" && snap.Commit != "" && snap.Commit != from {
		moved(ctx, from, snap)
	}
	return snap, snap.Commit != last, nil
}

// sourceMoved logs and notifies a move of the source's reference that is
// not a fast-forward (a force-push to an older commit or another
// history). The new commit is deployed all the same: Git is the truth.
// A move the cache cannot tell about (a shallow history) is logged at
// debug level only.
func (d *Daemon) sourceMoved(ctx context.Context, s *source, from string, to git.Snapshot) {
	a, ok := s.fetcher.(ancestry)
	if !ok {
		return
	}
	log := d.log.With("source", s.url, "ref", s.opts.Ref, "from", from, "to", to.Commit)
	move, err := a.Ancestry(ctx, from, to.Commit)
	switch {
	case err != nil:
		log.Debug("unable to tell how the reference moved", "error", err)
		return
	case move == git.MoveUnknown:
		log.Debug("the cache's history cannot tell whether the reference moved forward")
		return
	case move == git.MoveFastForward:
		return
	}
	log.Warn("non-fast-forward move of the watched reference; deploying it", "move", string(move))
	msg := fmt.Sprintf("the watched reference moved from %s to %s, not a descendant of it (%s): a force-push; it is deployed, Git being the truth", short(from), short(to.Commit), move)
	s.mu.Lock()
	loops := make([]*envLoop, 0, len(s.loops))
	for _, name := range sortedKeys(s.loops) {
		loops = append(loops, s.loops[name])
	}
	s.mu.Unlock()
	for _, l := range loops {
		l.notify(l.lastProviders(), notify.NonFastForward, to.Revision, to.Commit, nil, msg, nil)
	}
}

// short is a commit's first 7 characters.
func short(commit string) string {
	if len(commit) > 7 {
		return commit[:7]
	}
	return commit
}

var _ rollouts.Source = (*source)(nil)

// URL is the source's address, sanitized.
func (s *source) URL() string { return s.url }

// ConfigPath is digitops.yaml's path in the repository.
func (s *source) ConfigPath() string { return s.opts.ConfigPath }

// Head is the last snapshot fetched.
func (s *source) Head() git.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap
}

// gitCommit is the Git commit of a snapshot of the source, "" for a plain
// directory (its digest is no commit).
func (s *source) gitCommit(snap git.Snapshot) string {
	if _, isGit := s.fetcher.(*git.Client); !isGit {
		return ""
	}
	return snap.Commit
}

// At returns a snapshot of an earlier commit of the source, from its cache.
func (s *source) At(ctx context.Context, commit string) (git.Snapshot, error) {
	c, ok := s.fetcher.(*git.Client)
	if !ok {
		return git.Snapshot{}, errors.New("a plain directory has no earlier commits: rollouts need a Git source")
	}
	return c.At(ctx, commit)
}

// stale makes the next fetch go to the remote, not reuse a recent result.
func (s *source) stale() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fetchedAt = time.Time{}
}

// trigger asks for a sync of every environment of the source after the
// debounce delay; triggers within the delay are merged, but a wake waits
// at most maxWait after the first trigger it merges, so that a stream of
// pushes (each sooner than delay after the last) cannot put it off.
func (s *source) trigger(delay, maxWait time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fetchedAt = time.Time{} // the remote has moved: do not reuse
	now := time.Now()
	if s.debounce == nil || !s.debounce.Stop() {
		s.burst = now // no wake pending: this trigger starts a burst
	}
	wait := max(min(delay, s.burst.Add(maxWait).Sub(now)), 0)
	s.debounce = time.AfterFunc(wait, func() {
		s.mu.Lock()
		s.fetchedAt = time.Time{}
		loops := make([]*envLoop, 0, len(s.loops))
		for _, l := range s.loops {
			loops = append(loops, l)
		}
		s.mu.Unlock()
		wake(s.poke)
		for _, l := range loops {
			l.wakeBy(history.TriggerWebhook)
		}
	})
}

// wake sends on a buffered wake-up channel without blocking.
func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// discover returns the environments the source serves at snap.
func (s *source) discover(snap git.Snapshot) ([]string, error) {
	if len(s.opts.Environments) > 0 {
		return s.opts.Environments, nil
	}
	cfg, _, err := loader.Config(loader.Options{RepoDir: snap.Dir, ConfigPath: s.opts.ConfigPath})
	if err != nil {
		return nil, err
	}
	return cfg.EnvironmentNames(), nil
}

// runSource discovers the source's environments at every new revision and
// keeps one loop running per environment until work is cancelled.
func (d *Daemon) runSource(work, applyCtx context.Context, s *source) {
	log := d.log.With("source", s.url)
	var wg sync.WaitGroup
	stops := map[string]context.CancelFunc{}
	var observed string
	for {
		var names []string
		var err error
		if len(s.opts.Environments) > 0 {
			names = s.opts.Environments
		} else {
			var snap git.Snapshot
			snap, _, err = s.fetch(work, observed)
			if err == nil {
				observed = snap.Commit
				names, err = s.discover(snap)
			}
		}
		if err != nil && work.Err() == nil {
			log.Error("unable to discover environments", "error", err)
		}
		if err == nil {
			d.reconcileLoops(work, applyCtx, s, names, stops, &wg)
		}
		s.mu.Lock()
		s.err = ""
		if err != nil {
			s.err = err.Error()
		}
		s.mu.Unlock()
		t := time.NewTimer(jittered(d.opts.Interval, d.opts.Jitter))
		select {
		case <-work.Done():
			t.Stop()
			wg.Wait()
			return
		case <-s.poke:
		case <-t.C:
		}
		t.Stop()
	}
}

// reconcileLoops starts a loop for every new name and stops the loops of
// names that are gone. A name already served by another source is refused.
func (d *Daemon) reconcileLoops(work, applyCtx context.Context, s *source, names []string, stops map[string]context.CancelFunc, wg *sync.WaitGroup) {
	want := map[string]bool{}
	for _, name := range names {
		want[name] = true
		if _, running := stops[name]; running {
			continue
		}
		d.mu.Lock()
		_, taken := d.envs[name]
		l := newEnvLoop(d, s, name)
		if !taken {
			d.envs[name] = l
		}
		d.mu.Unlock()
		if taken {
			d.log.Error("environment is served by another source; ignored", "environment", name, "source", s.url)
			continue
		}
		ctx, stop := context.WithCancel(work)
		stops[name] = stop
		s.mu.Lock()
		s.loops[name] = l
		s.names = append(s.names, name)
		s.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.run(ctx, applyCtx)
		}()
	}
	for name, stop := range stops {
		if want[name] {
			continue
		}
		d.log.Info("environment removed from the configuration", "environment", name, "source", s.url)
		stop()
		delete(stops, name)
		d.mu.Lock()
		delete(d.envs, name)
		d.mu.Unlock()
		s.mu.Lock()
		delete(s.loops, name)
		s.names = sortedKeys(s.loops)
		s.mu.Unlock()
		d.metrics.ForgetEnvironment(name)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// dirSource reads a plain directory as it is. Its revision is a digest of
// the paths, sizes and modification times of its files, so an edit shows as
// a new revision.
type dirSource struct{ dir string }

func (s dirSource) Fetch(ctx context.Context, last string) (git.Snapshot, bool, error) {
	h := sha256.New()
	err := filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.dir, path)
		fmt.Fprintf(h, "%s\x00%d\x00%d\n", rel, fi.Size(), fi.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		return git.Snapshot{}, false, fmt.Errorf("unable to read directory %q: %w", s.dir, err)
	}
	digest := hex.EncodeToString(h.Sum(nil))[:12]
	snap := git.Snapshot{URL: s.dir, Revision: "dir:" + digest, Commit: "dir:" + digest, Dir: s.dir}
	return snap, snap.Commit != last, nil
}
