package git

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// Move is how a watched reference moved from one commit to another.
type Move string

// Moves.
const (
	// MoveFastForward: the old commit is an ancestor of the new one (or
	// they are the same).
	MoveFastForward Move = "fast-forward"
	// MoveRewind: the new commit is an ancestor of the old one: the
	// reference was moved back (a force-push to an older commit).
	MoveRewind Move = "rewind"
	// MoveDiverged: neither is an ancestor of the other: the history was
	// rewritten (a force-push of another history).
	MoveDiverged Move = "diverged"
	// MoveUnknown: the cache lacks the history that would tell (a remote
	// is fetched shallow: the commits between two fetches are not there)
	// or it is longer than a walk reads.
	MoveUnknown Move = "unknown"
)

// maxAncestryWalk bounds the commits one walk of Ancestry reads.
const maxAncestryWalk = 10000

// Ancestry tells how the reference moved from commit from to commit to,
// from the history the cache holds, without network. Only a move the cache
// can prove is reported as a rewind or a divergence; MoveUnknown otherwise.
func (c *Client) Ancestry(ctx context.Context, from, to string) (Move, error) {
	fromHash, toHash := plumbing.NewHash(from), plumbing.NewHash(to)
	if len(from) != 40 || fromHash.String() != from || len(to) != 40 || toHash.String() != to {
		return MoveUnknown, fmt.Errorf("git source %s: %q or %q is not a commit hash", c.ep.display, from, to)
	}
	if from == to {
		return MoveFastForward, nil
	}
	c.fetchMu.Lock()
	defer c.fetchMu.Unlock()
	repo, err := openRepo(filepath.Join(c.dir, repoDirName))
	if err != nil {
		return MoveUnknown, sanitizeError(fmt.Errorf("git source %s: %w", c.ep.display, err), c.secrets)
	}
	found, toComplete, err := reaches(ctx, repo, toHash, fromHash)
	if err != nil || found {
		return MoveFastForward, err
	}
	found, fromComplete, err := reaches(ctx, repo, fromHash, toHash)
	switch {
	case err != nil:
		return MoveUnknown, err
	case found:
		return MoveRewind, nil
	case toComplete && fromComplete:
		return MoveDiverged, nil
	}
	return MoveUnknown, nil
}

// reaches walks the history of start looking for want. complete is false
// when a commit of it is missing (a shallow clone) or the walk stopped at
// maxAncestryWalk commits.
func reaches(ctx context.Context, repo *gogit.Repository, start, want plumbing.Hash) (found, complete bool, err error) {
	seen := map[plumbing.Hash]bool{start: true}
	queue := []plumbing.Hash{start}
	complete = true
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return false, false, err
		}
		if len(seen) > maxAncestryWalk {
			return false, false, nil
		}
		h := queue[0]
		queue = queue[1:]
		if h == want {
			return true, true, nil
		}
		commit, err := commitOf(repo, h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			complete = false
			continue
		}
		if err != nil {
			return false, false, err
		}
		for _, p := range commit.ParentHashes {
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	return false, complete, nil
}
