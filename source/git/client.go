package git

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// DefaultTimeout bounds each network operation when Options.Timeout is zero.
const DefaultTimeout = 60 * time.Second

// Options configures a Client.
type Options struct {
	// URL is https://, http://, ssh://, user@host:path, file:// or a local
	// path to a Git repository (bare or not).
	URL string
	// Ref selects the revision; the zero value follows the remote HEAD.
	Ref Reference
	// CacheDir holds the object store and work trees; it survives restarts.
	// One Client per URL may use it at a time. Required.
	CacheDir string
	// Auth holds the credentials; the zero value is anonymous.
	Auth Auth
	// Timeout bounds each network operation (ls-remote, fetch);
	// DefaultTimeout when zero. The caller's context bounds it too.
	Timeout time.Duration
	// VerifyKeyring, when set, is an armored OpenPGP keyring: a commit not
	// signed by one of its keys is refused.
	VerifyKeyring string
	// Paths, when set, limits "changed" to commits touching these paths
	// (slash-separated, relative to the repository root).
	Paths []string
	// Logger receives re-clone notices; slog.Default() when nil.
	Logger *slog.Logger
}

// Snapshot is a checked-out revision.
type Snapshot struct {
	// URL is the repository URL without credentials.
	URL string `json:"url"`
	// Revision names the reference and commit: "main@sha1:<hex>",
	// "v1.2.0@sha1:<hex>", or "sha1:<hex>" for a bare commit.
	Revision string `json:"revision"`
	// Commit is the full hex SHA-1 of the commit.
	Commit string `json:"commit"`
	// CommitTime is the committer time of the commit.
	CommitTime time.Time `json:"commitTime"`
	// Author is the commit's author's name and Subject its message's
	// subject, each one line, bounded (written by whoever pushed: shown
	// escaped).
	Author  string `json:"author,omitempty"`
	Subject string `json:"subject,omitempty"`
	// Dir holds the commit's files (no .git). It is read-only for callers
	// and stays valid until two newer snapshots have been produced.
	Dir string `json:"dir"`
	// Signer is the fingerprint of the OpenPGP key that signed the commit,
	// when verification is configured.
	Signer string `json:"signer,omitempty"`
}

// Client fetches one repository reference into a cache directory. Its
// methods are safe for concurrent use; fetches are serialized.
type Client struct {
	opts     Options
	ep       endpoint
	auth     transport.AuthMethod // nil: anonymous or URL credentials
	dir      string               // <CacheDir>/<cacheKey>
	secrets  []string
	log      *slog.Logger
	fetchMu  sync.Mutex
	mu       sync.Mutex // guards lastGood
	lastGood Snapshot
	hasGood  bool
}

// New validates opts and prepares the cache directory. It does no network
// I/O. A last good snapshot left in the cache by an earlier process is
// loaded when its commit is still present (and verifies, when verification
// is configured). A local directory that is not a Git repository fails with
// ErrNotGitRepository.
func New(opts Options) (*Client, error) {
	secrets := opts.Auth.secrets()
	ep, err := parseEndpoint(opts.URL)
	if err != nil {
		return nil, sanitizeError(err, secrets)
	}
	secrets = append(secrets, ep.secrets()...)
	if err := opts.Ref.validate(); err != nil {
		return nil, sanitizeError(err, secrets)
	}
	if opts.CacheDir == "" {
		return nil, errors.New("git source: CacheDir is required")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if ep.local {
		installLocal()
	}
	auth, err := opts.Auth.transportAuth(ep, opts.Timeout)
	if err != nil {
		return nil, sanitizeError(fmt.Errorf("git source %s: %w", ep.display, err), secrets)
	}
	c := &Client{
		opts:    opts,
		ep:      ep,
		auth:    auth,
		dir:     filepath.Join(opts.CacheDir, ep.cacheKey()),
		secrets: secrets,
		log:     opts.Logger.With("url", ep.display),
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, fmt.Errorf("git source: unable to create cache directory: %w", err)
	}
	c.loadLastGood()
	return c, nil
}

// LastGood returns the last snapshot successfully produced (by this process
// or, from the cache, by an earlier one).
func (c *Client) LastGood() (Snapshot, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastGood, c.hasGood
}

// Fetch brings the configured reference up to date.
//
// When the remote reference still points at lastObserved (a Revision or a
// hex SHA-1), Fetch costs one ls-remote and returns changed=false with the
// last good snapshot if it is that commit (else a Snapshot with URL,
// Revision and Commit only). A pinned commit equal to lastObserved costs no
// network at all.
//
// Otherwise the commit is fetched shallowly into the cache, verified when
// VerifyKeyring is set, checked out, recorded as the last good snapshot and
// returned with changed=true — or changed=false when Paths is set and no
// file under Paths differs from lastObserved.
//
// On failure the error names the sanitized URL, never a credential; the
// returned snapshot is the last good one (possibly zero) and the cache's
// last good work tree is left untouched.
func (c *Client) Fetch(ctx context.Context, lastObserved string) (Snapshot, bool, error) {
	c.fetchMu.Lock()
	defer c.fetchMu.Unlock()
	snap, changed, err := c.fetch(ctx, observedHash(lastObserved))
	if err != nil {
		good, _ := c.LastGood()
		return good, false, sanitizeError(fmt.Errorf("git source %s (%s): %w", c.ep.display, c.opts.Ref, err), c.secrets)
	}
	return snap, changed, nil
}

func (c *Client) fetch(ctx context.Context, last plumbing.Hash) (Snapshot, bool, error) {
	ref := c.opts.Ref
	var t target
	if ref.Commit != "" && ref.Branch == "" {
		t = target{hash: plumbing.NewHash(ref.Commit), pinned: true}
	} else {
		refs, err := c.lsRemote(ctx)
		if err != nil {
			return Snapshot{}, false, err
		}
		if t, err = resolve(ref, refs); err != nil {
			return Snapshot{}, false, err
		}
	}
	if !last.IsZero() && t.hash == last {
		return c.unchanged(t), false, nil
	}

	co, err := c.sync(ctx, filepath.Join(c.dir, repoDirName), t)
	var policy *policyError
	if err != nil && ctx.Err() == nil && !errors.As(err, &policy) {
		c.log.Warn("git cache unusable or fetch failed; re-cloning", "error", sanitizeText(err.Error(), c.secrets))
		co, err = c.reclone(ctx, t)
	}
	if err != nil {
		return Snapshot{}, false, err
	}
	commit := co.commit
	snap := Snapshot{
		URL:        c.ep.display,
		Revision:   t.revision(commit.Hash),
		Commit:     commit.Hash.String(),
		CommitTime: commit.Committer.When.UTC(),
		Dir:        co.dir,
		Signer:     co.signer,
	}
	describe(&snap, commit)
	changed := true
	if len(c.opts.Paths) > 0 {
		repo, err := openRepo(filepath.Join(c.dir, repoDirName))
		changed = err != nil || touchesPaths(repo, last, commit, c.opts.Paths)
	}
	c.record(snap)
	return snap, changed, nil
}

// unchanged is the snapshot returned when the remote still points at the
// last observed commit.
func (c *Client) unchanged(t target) Snapshot {
	if good, ok := c.LastGood(); ok && good.Commit == t.hash.String() {
		good.Revision = t.revision(t.hash)
		return good
	}
	return Snapshot{URL: c.ep.display, Revision: t.revision(t.hash), Commit: t.hash.String()}
}

// policyError marks a refusal (verification) that re-cloning cannot fix.
type policyError struct{ err error }

func (e *policyError) Error() string { return e.err.Error() }
func (e *policyError) Unwrap() error { return e.err }

// checkout is a verified commit and its work tree.
type checkout struct {
	commit *object.Commit
	dir    string
	signer string
}

// sync fetches t into the repository at repoDir when needed, verifies the
// commit and checks it out.
func (c *Client) sync(ctx context.Context, repoDir string, t target) (checkout, error) {
	repo, err := openRepo(repoDir)
	if err != nil {
		return checkout{}, err
	}
	co := checkout{}
	if co.commit, err = c.obtain(ctx, repo, t); err != nil {
		return checkout{}, err
	}
	if c.opts.VerifyKeyring != "" {
		if co.signer, err = verifyCommit(co.commit, c.opts.VerifyKeyring); err != nil {
			return checkout{}, &policyError{err}
		}
	}
	if co.dir, err = materialize(co.commit, filepath.Join(c.dir, treesDirName)); err != nil {
		return checkout{}, err
	}
	return co, nil
}

// obtain returns the commit of t, from the object store when it is already
// there, else after fetching it.
func (c *Client) obtain(ctx context.Context, repo *gogit.Repository, t target) (*object.Commit, error) {
	if !t.hash.IsZero() {
		if commit, err := commitOf(repo, t.hash); err == nil {
			return commit, nil
		}
	}
	specs := []config.RefSpec{config.RefSpec("+" + t.remoteRef + ":" + t.remoteRef)}
	depth := 1
	if t.remoteRef == "" { // a bare commit: any branch or tag may hold it
		specs = []config.RefSpec{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"}
	}
	if t.pinned || c.ep.local {
		depth = 0 // a pinned commit may be deep in history; local is cheap
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	err := c.remote(repo).FetchContext(ctx, &gogit.FetchOptions{
		RefSpecs: specs,
		Depth:    depth,
		Auth:     c.auth,
		Tags:     gogit.NoTags,
		Force:    true,
	})
	if err != nil && !errors.Is(err, gogit.NoErrAlreadyUpToDate) {
		return nil, fmt.Errorf("fetch failed: %w", err)
	}
	hash := t.hash
	if !t.pinned { // the ref may have moved since ls-remote: take what was fetched
		ref, err := repo.Reference(t.remoteRef, true)
		if err != nil {
			return nil, fmt.Errorf("fetched reference %s is missing: %w", t.remoteRef, err)
		}
		hash = ref.Hash()
	}
	commit, err := commitOf(repo, hash)
	if err != nil && t.pinned {
		// The server sent no such commit: a new clone would not have it
		// either.
		return nil, &policyError{fmt.Errorf("commit %s not found after fetch: %w", hash, err)}
	}
	if err != nil {
		return nil, fmt.Errorf("commit %s not found after fetch: %w", hash, err)
	}
	return commit, nil
}

// reclone fetches t into a fresh repository and swaps it in on success; the
// old repository stays in place when this fails too.
func (c *Client) reclone(ctx context.Context, t target) (checkout, error) {
	if leftovers, _ := filepath.Glob(filepath.Join(c.dir, "repo.new-*")); len(leftovers) > 0 {
		for _, dir := range leftovers { // from an interrupted earlier attempt
			_ = os.RemoveAll(dir)
		}
	}
	fresh, err := os.MkdirTemp(c.dir, "repo.new-")
	if err != nil {
		return checkout{}, err
	}
	if err := os.Remove(fresh); err != nil { // openRepo creates it
		return checkout{}, err
	}
	co, err := c.sync(ctx, fresh, t)
	if err != nil {
		_ = os.RemoveAll(fresh)
		return checkout{}, err
	}
	repoDir := filepath.Join(c.dir, repoDirName)
	if err := os.RemoveAll(repoDir); err != nil {
		return checkout{}, err
	}
	if err := os.Rename(fresh, repoDir); err != nil {
		return checkout{}, err
	}
	return co, nil
}

// lsRemote lists the remote's references, with peeled tags, without
// fetching any object.
func (c *Client) lsRemote(ctx context.Context) ([]*plumbing.Reference, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	rem := gogit.NewRemote(nil, &config.RemoteConfig{Name: "origin", URLs: []string{c.ep.url}})
	refs, err := rem.ListContext(ctx, &gogit.ListOptions{Auth: c.auth, PeelingOption: gogit.AppendPeeled})
	if err != nil {
		return nil, fmt.Errorf("unable to list remote references: %w", err)
	}
	return refs, nil
}

// remote is an in-memory "origin": the URL, which may carry credentials, is
// never written to the cached repository's config.
func (c *Client) remote(repo *gogit.Repository) *gogit.Remote {
	return gogit.NewRemote(repo.Storer, &config.RemoteConfig{Name: "origin", URLs: []string{c.ep.url}})
}

// record makes snap the last good snapshot, persists it and prunes work
// trees other than it and the previous one.
func (c *Client) record(snap Snapshot) {
	c.mu.Lock()
	prev := c.lastGood.Dir
	c.lastGood, c.hasGood = snap, true
	c.mu.Unlock()
	if err := saveState(filepath.Join(c.dir, stateFileName), snap); err != nil {
		c.log.Warn("unable to save git snapshot state", "error", err)
	}
	if err := pruneTrees(filepath.Join(c.dir, treesDirName), snap.Dir, prev); err != nil {
		c.log.Warn("unable to prune old work trees", "error", err)
	}
}

// loadLastGood restores the snapshot saved by an earlier process when its
// work tree and commit are still present and, if configured, it verifies.
func (c *Client) loadLastGood() {
	snap, ok := loadState(filepath.Join(c.dir, stateFileName))
	if !ok || snap.URL != c.ep.display {
		return
	}
	if filepath.Dir(snap.Dir) != filepath.Join(c.dir, treesDirName) {
		return
	}
	if _, err := os.Stat(snap.Dir); err != nil {
		return
	}
	repo, err := openRepo(filepath.Join(c.dir, repoDirName))
	if err != nil {
		return
	}
	commit, err := repo.CommitObject(plumbing.NewHash(snap.Commit))
	if err != nil {
		return
	}
	if c.opts.VerifyKeyring != "" {
		if snap.Signer, err = verifyCommit(commit, c.opts.VerifyKeyring); err != nil {
			return
		}
	}
	c.lastGood, c.hasGood = snap, true
}
