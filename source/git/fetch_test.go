package git

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// refFixture is a served repository with commits c1..c4:
//
//	main: c1 (tag v1.0.0, lightweight) - c2 (v1.2.0, annotated) - c3 (v2.0.0)
//	dev:  c3 - c4, also refs/pull/1/head; v1.10.0-rc.1 on c4
type refFixture struct {
	url            string
	c1, c2, c3, c4 plumbing.Hash
	times          map[plumbing.Hash]time.Time
}

func newRefFixture(t *testing.T, s *server) refFixture {
	up, url := s.repo(t, "org/refs.git")
	f := refFixture{url: url, times: map[plumbing.Hash]time.Time{}}
	f.c1 = up.commit("c1", map[string]string{"version": "1"}, nil)
	f.times[f.c1] = up.when
	up.tag("v1.0.0", f.c1, false)
	f.c2 = up.commit("c2", map[string]string{"version": "2"}, nil)
	f.times[f.c2] = up.when
	up.tag("v1.2.0", f.c2, true)
	f.c3 = up.commit("c3", map[string]string{"version": "3"}, nil)
	f.times[f.c3] = up.when
	up.tag("v2.0.0", f.c3, true)
	up.checkoutBranch("dev")
	f.c4 = up.commit("c4", map[string]string{"version": "4"}, nil)
	f.times[f.c4] = up.when
	up.tag("v1.10.0-rc.1", f.c4, false)
	if err := up.repo.Storer.SetReference(plumbing.NewHashReference("refs/pull/1/head", f.c4)); err != nil {
		t.Fatal(err)
	}
	// HEAD must name main again for the default-branch case
	if err := up.repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.Main)); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFetch_eachReferenceKind(t *testing.T) {
	s := startHTTP(t, "", "")
	f := newRefFixture(t, s)
	tests := []struct {
		name string
		ref  Reference // what the user asks for
		// wantLabel prefixes the revision ("" for a bare commit)
		wantLabel string
		want      plumbing.Hash // the commit checked out
		wantErr   string        // substring of the error, when one is expected
	}{
		{name: "default branch", ref: Reference{}, wantLabel: "main", want: f.c3},
		{name: "branch", ref: Reference{Branch: "main"}, wantLabel: "main", want: f.c3},
		{name: "other branch", ref: Reference{Branch: "dev"}, wantLabel: "dev", want: f.c4},
		{name: "lightweight tag", ref: Reference{Tag: "v1.0.0"}, wantLabel: "v1.0.0", want: f.c1},
		{name: "annotated tag", ref: Reference{Tag: "v1.2.0"}, wantLabel: "v1.2.0", want: f.c2},
		{name: "semver range", ref: Reference{SemVer: ">=1.0.0 <2.0.0"}, wantLabel: "v1.2.0", want: f.c2},
		{name: "semver picks the highest", ref: Reference{SemVer: "*"}, wantLabel: "v2.0.0", want: f.c3},
		{name: "semver prerelease", ref: Reference{SemVer: ">=1.3.0-0 <2.0.0"}, wantLabel: "v1.10.0-rc.1", want: f.c4},
		{name: "commit", ref: Reference{Commit: f.c1.String()}, want: f.c1},
		{name: "commit on branch", ref: Reference{Branch: "main", Commit: f.c2.String()}, wantLabel: "main", want: f.c2},
		{name: "full ref name", ref: Reference{Name: "refs/pull/1/head"}, wantLabel: "refs/pull/1/head", want: f.c4},
		{name: "short name is a tag", ref: Reference{Name: "v1.2.0"}, wantLabel: "v1.2.0", want: f.c2},
		{name: "short name is a branch", ref: Reference{Name: "dev"}, wantLabel: "dev", want: f.c4},
		{name: "tag beats branch", ref: Reference{Branch: "dev", Tag: "v1.0.0"}, wantLabel: "v1.0.0", want: f.c1},
		{name: "tag beats semver", ref: Reference{SemVer: "*", Tag: "v1.0.0"}, wantLabel: "v1.0.0", want: f.c1},
		{name: "name beats tag", ref: Reference{Name: "dev", Tag: "v1.0.0"}, wantLabel: "dev", want: f.c4},
		{name: "commit beats all", ref: Reference{Commit: f.c2.String(), Name: "dev", Tag: "v1.0.0"}, want: f.c2},
		{name: "missing branch", ref: Reference{Branch: "nope"}, wantErr: `branch "nope" not found`},
		{name: "missing tag", ref: Reference{Tag: "v9"}, wantErr: `tag "v9" not found`},
		{name: "no semver match", ref: Reference{SemVer: ">=9"}, wantErr: `no tag matches semver range ">=9"`},
		{name: "unknown commit", ref: Reference{Commit: strings.Repeat("ab", 20)}, wantErr: "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, Options{URL: f.url, Ref: tt.ref})
			snap, changed, err := c.Fetch(context.Background(), "")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantRev := "sha1:" + tt.want.String()
			if tt.wantLabel != "" {
				wantRev = tt.wantLabel + "@" + wantRev
			}
			if snap.Revision != wantRev || snap.Commit != tt.want.String() || !changed {
				t.Errorf("got %s (changed=%v), want %s", snap.Revision, changed, wantRev)
			}
			if !snap.CommitTime.Equal(f.times[tt.want]) {
				t.Errorf("commit time = %v, want %v", snap.CommitTime, f.times[tt.want])
			}
			wantVersion := map[plumbing.Hash]string{f.c1: "1", f.c2: "2", f.c3: "3", f.c4: "4"}[tt.want]
			if got := readFile(t, snap, "version"); got != wantVersion {
				t.Errorf("work tree has version %q, want %q", got, wantVersion)
			}
		})
	}
}

func TestFetch_unchangedRemoteDoesNoFetch(t *testing.T) {
	s := startHTTP(t, "", "")
	up, url := s.repo(t, "repo.git")
	c1 := up.commit("c1", map[string]string{"a": "1"}, nil)
	c := newTestClient(t, Options{URL: url, Ref: Reference{Branch: "main"}})
	first, _ := mustFetch(t, c, "")
	if refs, packs := s.counts(); refs != 2 || packs != 1 {
		t.Fatalf("first fetch: %d ref listings, %d upload-packs; want 2 and 1", refs, packs)
	}

	for _, last := range []string{first.Revision, "sha1:" + c1.String(), c1.String()} {
		snap, changed := mustFetch(t, c, last)
		if changed || snap != first {
			t.Errorf("last=%s: changed=%v snap=%+v, want unchanged %+v", last, changed, snap, first)
		}
		if refs, packs := s.counts(); refs != 1 || packs != 0 {
			t.Errorf("last=%s: %d ref listings, %d upload-packs; want exactly one ls-remote", last, refs, packs)
		}
	}

	// A pinned commit already observed needs no network at all.
	pinned := newTestClient(t, Options{URL: url, Ref: Reference{Commit: c1.String()}})
	s.counts()
	if _, changed := mustFetch(t, pinned, "sha1:"+c1.String()); changed {
		t.Error("pinned commit reported as changed")
	}
	if refs, packs := s.counts(); refs != 0 || packs != 0 {
		t.Errorf("pinned commit: %d ref listings, %d upload-packs; want none", refs, packs)
	}
}

func TestFetch_newCommitIsFetchedIncrementally(t *testing.T) {
	s := startHTTP(t, "", "")
	up, url := s.repo(t, "repo.git")
	up.commit("c1", map[string]string{"a": "1", "big": strings.Repeat("x", 1<<16)}, nil)
	cache := t.TempDir()
	c := newTestClient(t, Options{URL: url, CacheDir: cache})
	first, _ := mustFetch(t, c, "")
	repoDir := filepath.Join(c.dir, repoDirName)
	if _, err := os.Stat(filepath.Join(repoDir, "shallow")); err != nil {
		t.Errorf("cache is not a shallow clone: %v", err)
	}
	marker := filepath.Join(repoDir, "digitops-test-marker")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s.counts()

	c2 := up.commit("c2: bump egov-user\n\nthe body is not the subject", map[string]string{"a": "2"}, nil)
	second, changed := mustFetch(t, c, first.Revision)
	if !changed || second.Commit != c2.String() || readFile(t, second, "a") != "2" {
		t.Fatalf("second fetch: changed=%v commit=%s", changed, second.Commit)
	}
	if second.Author != "test" || second.Subject != "c2: bump egov-user" {
		t.Errorf("second fetch: author %q, subject %q; want test and the message's first line", second.Author, second.Subject)
	}
	if refs, packs := s.counts(); refs != 2 || packs != 1 {
		t.Errorf("%d ref listings, %d upload-packs; want 2 and 1", refs, packs)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Error("cache was re-cloned instead of fetched into")
	}
	if _, err := os.Stat(first.Dir); err != nil {
		t.Error("previous work tree removed while a reader may still use it")
	}

	up.commit("c3", map[string]string{"a": "3"}, nil)
	third, _ := mustFetch(t, c, second.Revision)
	if _, err := os.Stat(first.Dir); !os.IsNotExist(err) {
		t.Error("work tree two snapshots old was not pruned")
	}
	if readFile(t, third, "big") != strings.Repeat("x", 1<<16) {
		t.Error("unchanged file missing from incremental checkout")
	}
}

func TestFetch_forcePushedBranch(t *testing.T) {
	s := startHTTP(t, "", "")
	up, url := s.repo(t, "repo.git")
	c1 := up.commit("c1", map[string]string{"a": "1"}, nil)
	up.commit("c2", map[string]string{"a": "2"}, nil)
	c := newTestClient(t, Options{URL: url, Ref: Reference{Branch: "main"}})
	before, _ := mustFetch(t, c, "")

	up.setBranch("main", c1) // rewrite history: c2 is gone
	rewritten := up.commit("c2'", map[string]string{"a": "rewritten"}, nil)
	after, changed := mustFetch(t, c, before.Revision)
	if !changed || after.Commit != rewritten.String() || readFile(t, after, "a") != "rewritten" {
		t.Errorf("after force push got %s, want %s", after.Revision, rewritten)
	}
}

func TestFetch_serverDownKeepsLastGood(t *testing.T) {
	s := startHTTP(t, "", "")
	up, url := s.repo(t, "repo.git")
	up.commit("c1", map[string]string{"a": "1"}, nil)
	c := newTestClient(t, Options{URL: url, Timeout: 5 * time.Second})
	good, _ := mustFetch(t, c, "")

	s.StopHTTP()
	snap, changed, err := c.Fetch(context.Background(), good.Revision)
	if err == nil || changed {
		t.Fatalf("fetch from a stopped server: err=%v changed=%v", err, changed)
	}
	if !strings.Contains(err.Error(), SanitizeURL(url)) {
		t.Errorf("error does not name the repository: %v", err)
	}
	if snap != good {
		t.Errorf("returned %+v, want last good %+v", snap, good)
	}
	if lg, ok := c.LastGood(); !ok || lg != good {
		t.Errorf("LastGood() = %+v, %v", lg, ok)
	}
	if readFile(t, good, "a") != "1" {
		t.Error("last good work tree damaged")
	}
}

func TestFetch_cancelledContext(t *testing.T) {
	s := startHTTP(t, "", "")
	up, url := s.repo(t, "repo.git")
	up.commit("c1", map[string]string{"a": "1"}, nil)
	c := newTestClient(t, Options{URL: url})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := c.Fetch(ctx, "")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
}

func TestFetch_timeoutOnHangingServer(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer hang.Close()
	defer hang.CloseClientConnections()
	c := newTestClient(t, Options{URL: hang.URL + "/repo.git", Timeout: 300 * time.Millisecond})
	start := time.Now()
	_, _, err := c.Fetch(context.Background(), "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want a deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("fetch took %v despite a 300ms timeout", d)
	}
}

func TestFetch_corruptedCacheIsRecloned(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(t *testing.T, repoDir string) // damages the cached object store
		push    bool                               // a new commit arrives before the next fetch
	}{
		{name: "config is garbage", corrupt: func(t *testing.T, d string) { write(t, filepath.Join(d, "config"), "[[[") }},
		{name: "objects deleted", corrupt: func(t *testing.T, d string) { removeAll(t, filepath.Join(d, "objects")) }},
		{name: "objects deleted, new commit", push: true, corrupt: func(t *testing.T, d string) { removeAll(t, filepath.Join(d, "objects")) }},
		{name: "packs truncated", push: true, corrupt: func(t *testing.T, d string) { truncatePacks(t, filepath.Join(d, "objects", "pack")) }},
		{name: "repo is a file", corrupt: func(t *testing.T, d string) { removeAll(t, d); write(t, d, "x") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startHTTP(t, "", "")
			up, url := s.repo(t, "repo.git")
			up.commit("c1", map[string]string{"a": "1", "keep": "k"}, nil)
			cache := t.TempDir()
			c := newTestClient(t, Options{URL: url, CacheDir: cache})
			mustFetch(t, c, "")
			tt.corrupt(t, filepath.Join(c.dir, repoDirName))
			want := "1"
			if tt.push {
				up.commit("c2", map[string]string{"a": "2"}, nil)
				want = "2"
			}
			// a restarted process must not trust the damaged cache either
			restarted := newTestClient(t, Options{URL: url, CacheDir: cache})
			snap, changed := mustFetch(t, restarted, "")
			if !changed || readFile(t, snap, "a") != want || readFile(t, snap, "keep") != "k" {
				t.Errorf("after corruption got %s changed=%v", snap.Revision, changed)
			}
			if _, err := openRepo(filepath.Join(c.dir, repoDirName)); err != nil {
				t.Errorf("cache not repaired: %v", err)
			}
		})
	}
}

func TestFetch_restartReusesCache(t *testing.T) {
	s := startHTTP(t, "", "")
	up, url := s.repo(t, "repo.git")
	up.commit("c1", map[string]string{"a": "1"}, nil)
	cache := t.TempDir()
	first, _ := mustFetch(t, newTestClient(t, Options{URL: url, CacheDir: cache}), "")

	c := newTestClient(t, Options{URL: url, CacheDir: cache})
	if lg, ok := c.LastGood(); !ok || lg != first {
		t.Fatalf("LastGood after restart = %+v, %v; want %+v", lg, ok, first)
	}
	s.counts()
	snap, changed := mustFetch(t, c, "")
	if !changed || snap != first {
		t.Errorf("got %+v changed=%v", snap, changed)
	}
	if refs, packs := s.counts(); refs != 1 || packs != 0 {
		t.Errorf("%d ref listings, %d upload-packs; want the cached commit reused", refs, packs)
	}
}

func TestFetch_pathFilter(t *testing.T) {
	s := startHTTP(t, "", "")
	up, url := s.repo(t, "repo.git")
	up.commit("c1", map[string]string{"charts/a/values.yaml": "1", "docs/x.md": "1"}, nil)
	c := newTestClient(t, Options{URL: url, Paths: []string{"charts/", "env.yaml"}})
	snap, changed := mustFetch(t, c, "")
	if !changed {
		t.Fatal("first fetch must report changed")
	}
	steps := []struct {
		files map[string]string // the commit's changes ("" deletes)
		want  bool              // whether it counts as changed
	}{
		{files: map[string]string{"docs/x.md": "2"}, want: false},
		{files: map[string]string{"charts/a/values.yaml": "2"}, want: true},
		{files: map[string]string{"env.yaml": "1"}, want: true},
		{files: map[string]string{"env.yaml.bak": "1"}, want: false},
		{files: map[string]string{"charts/a/values.yaml": ""}, want: true},
	}
	for i, st := range steps {
		up.commit("step", st.files, nil)
		next, changed := mustFetch(t, c, snap.Revision)
		if changed != st.want {
			t.Errorf("step %d (%v): changed=%v, want %v", i, st.files, changed, st.want)
		}
		snap = next
	}
	// an observed commit that is not in the (shallow) cache: assume changed
	up.commit("c9", map[string]string{"docs/x.md": "9"}, nil)
	if _, changed := mustFetch(t, c, "sha1:"+strings.Repeat("1", 40)); !changed {
		t.Error("unknown previous commit must count as changed")
	}
}

func TestFetch_localRepository(t *testing.T) {
	dir := t.TempDir()
	up := newUpstream(t, filepath.Join(dir, "repo.git"))
	h := up.commit("c1", map[string]string{"a": "1"}, nil)
	for _, url := range []string{filepath.Join(dir, "repo.git"), "file://" + filepath.Join(dir, "repo.git")} {
		c := newTestClient(t, Options{URL: url})
		snap, _ := mustFetch(t, c, "")
		if snap.Commit != h.String() || readFile(t, snap, "a") != "1" {
			t.Errorf("%s: got %+v", url, snap)
		}
	}
	if _, err := New(Options{URL: t.TempDir(), CacheDir: t.TempDir()}); !errors.Is(err, ErrNotGitRepository) {
		t.Errorf("plain directory: err = %v, want ErrNotGitRepository", err)
	}
}

func write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func removeAll(t *testing.T, name string) {
	t.Helper()
	if err := os.RemoveAll(name); err != nil {
		t.Fatal(err)
	}
}

func truncatePacks(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.Truncate(filepath.Join(dir, e.Name()), 40); err != nil {
			t.Fatal(err)
		}
	}
}

func TestClient_concurrentUse(t *testing.T) {
	s := startHTTP(t, "", "")
	up, url := s.repo(t, "repo.git")
	up.commit("c1", map[string]string{"a": "1"}, nil)
	c := newTestClient(t, Options{URL: url})
	done := make(chan error)
	for range 3 {
		go func() {
			_, _, err := c.Fetch(context.Background(), "")
			done <- err
		}()
	}
	for range 100 {
		c.LastGood()
	}
	for range 3 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
