package git

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// pinnedDirName holds the work trees of commits asked for by At, apart from
// the fetched ones (which are pruned to the last two).
const pinnedDirName = "pinned"

// maxPinnedTrees bounds the pinned work trees kept: the oldest are removed.
const maxPinnedTrees = 8

// At returns a snapshot of an earlier commit of the repository, for an
// environment that stays on an older revision during a rollout. A commit
// the cache holds (one the source fetched before) needs no network; one it
// does not (a new process, whose clone is shallow) makes the cache clone
// again with the branches' history, as a pinned reference does. Verification, when
// configured, applies as it does to fetched commits.
func (c *Client) At(ctx context.Context, commit string) (Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return Snapshot{}, err
	}
	hash := plumbing.NewHash(commit)
	if len(commit) != 40 || hash.String() != strings.ToLower(commit) {
		return Snapshot{}, fmt.Errorf("git source %s: %q is not a commit hash", c.ep.display, commit)
	}
	c.fetchMu.Lock()
	defer c.fetchMu.Unlock()
	repo, err := openRepo(filepath.Join(c.dir, repoDirName))
	if err != nil {
		return Snapshot{}, sanitizeError(fmt.Errorf("git source %s: %w", c.ep.display, err), c.secrets)
	}
	co, err := commitOf(repo, hash)
	if err != nil {
		// A shallow clone cannot be deepened in place: clone again with
		// the branches' history.
		if _, err := c.reclone(ctx, target{hash: hash, pinned: true}); err != nil {
			return Snapshot{}, sanitizeError(fmt.Errorf("git source %s: commit %s: %w", c.ep.display, commit, err), c.secrets)
		}
		if repo, err = openRepo(filepath.Join(c.dir, repoDirName)); err == nil {
			co, err = commitOf(repo, hash)
		}
		if err != nil {
			return Snapshot{}, sanitizeError(fmt.Errorf("git source %s: commit %s: %w", c.ep.display, commit, err), c.secrets)
		}
	}
	snap := Snapshot{URL: c.ep.display, Commit: commit, CommitTime: co.Committer.When.UTC()}
	describe(&snap, co)
	if c.opts.VerifyKeyring != "" {
		if snap.Signer, err = verifyCommit(co, c.opts.VerifyKeyring); err != nil {
			return Snapshot{}, err
		}
	}
	pinned := filepath.Join(c.dir, pinnedDirName)
	if snap.Dir, err = materialize(co, pinned); err != nil {
		return Snapshot{}, err
	}
	snap.Revision = "sha1:" + commit
	if good, ok := c.LastGood(); ok {
		if name, _, found := strings.Cut(good.Revision, "@"); found {
			snap.Revision = name + "@sha1:" + commit
		}
	}
	if err := prunePinned(pinned, snap.Dir); err != nil {
		c.log.Warn("unable to prune old pinned work trees", "error", err)
	}
	return snap, nil
}

// prunePinned keeps the maxPinnedTrees most recently used pinned trees
// (keep among them) and removes the others.
func prunePinned(dir, keep string) error {
	now := time.Now()
	_ = os.Chtimes(keep, now, now) // most recently used
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	type tree struct {
		path string
		used int64
	}
	var trees []tree
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			continue
		}
		trees = append(trees, tree{filepath.Join(dir, e.Name()), info.ModTime().UnixNano()})
	}
	if len(trees) <= maxPinnedTrees {
		return nil
	}
	slices.SortFunc(trees, func(a, b tree) int { return cmp.Compare(b.used, a.used) })
	var errs []error
	for _, t := range trees[maxPinnedTrees:] {
		if t.path != keep {
			errs = append(errs, os.RemoveAll(t.path))
		}
	}
	return errors.Join(errs...)
}
