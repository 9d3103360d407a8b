package git

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Worktree is a local clone that digitops commits to and pushes from
// (set-image). Unlike a Client, it works in the caller's own checkout and
// keeps no cache. Its errors say what failed; what to do next is the
// caller's to add.
type Worktree struct {
	repo *gogit.Repository
	wt   *gogit.Worktree
}

// Errors of a Worktree, reported wrapped: test them with errors.Is. The
// caller adds what its user should do next.
var (
	// ErrDirtyWorktree is a working tree with uncommitted changes.
	ErrDirtyWorktree = errors.New("the working tree has uncommitted changes")
	// ErrNoRemote is a remote the clone does not have.
	ErrNoRemote = errors.New("no such remote")
	// ErrDetachedHead is a HEAD that names no branch to push.
	ErrDetachedHead = errors.New("HEAD is detached")
	// ErrRemoteMoved is a push the remote refused as non-fast-forward: its
	// branch has commits the clone does not.
	ErrRemoteMoved = errors.New("the remote branch moved on")
)

// marked is err (its text and chain) that is also mark for errors.Is.
type marked struct{ err, mark error }

func (e *marked) Error() string        { return e.err.Error() }
func (e *marked) Unwrap() error        { return e.err }
func (e *marked) Is(target error) bool { return target == e.mark }

// OpenWorktree opens the clone that holds dir (dir or a parent has .git).
// A directory in no clone is an error that is ErrNotGitRepository; a bare
// repository is an error too.
func OpenWorktree(dir string) (*Worktree, error) {
	repo, err := gogit.PlainOpenWithOptions(dir, &gogit.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, sanitizeError(fmt.Errorf("unable to open the Git repository at %s: %w", dir, &marked{err, ErrNotGitRepository}), nil)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return nil, sanitizeError(fmt.Errorf("unable to open the working tree: %w", err), nil)
	}
	return &Worktree{repo: repo, wt: wt}, nil
}

// CheckClean returns an error naming (up to five of) the changed paths when
// the working tree has uncommitted changes (ErrDirtyWorktree), so that a
// commit holds only the caller's own edit.
func (w *Worktree) CheckClean() error {
	st, err := w.wt.Status()
	if err != nil {
		return sanitizeError(fmt.Errorf("unable to read the working tree status: %w", err), nil)
	}
	if st.IsClean() {
		return nil
	}
	var dirty []string
	for path := range st {
		dirty = append(dirty, path)
	}
	sort.Strings(dirty)
	if len(dirty) > 5 {
		dirty = append(dirty[:5], "...")
	}
	return sanitizeError(fmt.Errorf("%w (%s)", ErrDirtyWorktree, strings.Join(dirty, ", ")), nil)
}

// Commit stages files (paths on disk inside the working tree, already
// written) and commits them with message on the checked-out branch, as the
// repository's Git identity (GIT_AUTHOR_NAME and GIT_AUTHOR_EMAIL win;
// else digitops). It returns the commit's hash. On failure the files
// staged so far stay staged and nothing is committed. The caller has
// checked that the working tree was clean (CheckClean).
func (w *Worktree) Commit(files []string, message string) (string, error) {
	root := w.wt.Filesystem.Root()
	for _, path := range files {
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return "", sanitizeError(err, nil)
		}
		if _, err := w.wt.Add(filepath.ToSlash(rel)); err != nil {
			return "", sanitizeError(fmt.Errorf("unable to stage %s: %w", rel, err), nil)
		}
	}
	hash, err := w.wt.Commit(message, &gogit.CommitOptions{Author: w.signature()})
	if err != nil {
		return "", sanitizeError(fmt.Errorf("unable to commit: %w", err), nil)
	}
	return hash.String(), nil
}

// signature is the commit author: the repository's Git identity, else
// GIT_AUTHOR_NAME/GIT_AUTHOR_EMAIL, else digitops.
func (w *Worktree) signature() *object.Signature {
	sig := &object.Signature{Name: "digitops", Email: "digitops@localhost", When: time.Now()}
	if c, err := w.repo.ConfigScoped(config.GlobalScope); err == nil && c.User.Name != "" {
		sig.Name, sig.Email = c.User.Name, c.User.Email
	}
	if v := os.Getenv("GIT_AUTHOR_NAME"); v != "" {
		sig.Name = v
	}
	if v := os.Getenv("GIT_AUTHOR_EMAIL"); v != "" {
		sig.Email = v
	}
	return sig
}

// Push pushes the checked-out branch to the branch of the same name on
// remote with auth and returns the branch's short name. Already up to date
// is success. On failure the local commits stay. A remote the clone does
// not have is ErrNoRemote, a detached HEAD ErrDetachedHead, and a remote
// branch that moved on ErrRemoteMoved (its text is the remote's refusal).
// Every error is sanitized: auth's secrets and the URL's credentials are
// masked.
func (w *Worktree) Push(ctx context.Context, remote string, auth Auth) (string, error) {
	r, err := w.repo.Remote(remote)
	if err != nil {
		return "", sanitizeError(&marked{fmt.Errorf("no remote %q: %w", remote, err), ErrNoRemote}, auth.secrets())
	}
	url := r.Config().URLs[0]
	method, err := auth.Method(url)
	if err != nil {
		return "", err
	}
	secrets := auth.secrets()
	if ep, err := parseEndpoint(url); err == nil {
		secrets = append(secrets, ep.secrets()...)
	}
	head, err := w.repo.Head()
	if err != nil {
		return "", sanitizeError(err, secrets)
	}
	if !head.Name().IsBranch() {
		return "", sanitizeError(ErrDetachedHead, nil)
	}
	spec := config.RefSpec(head.Name().String() + ":" + head.Name().String())
	err = w.repo.PushContext(ctx, &gogit.PushOptions{RemoteName: remote, RefSpecs: []config.RefSpec{spec}, Auth: method})
	switch {
	case errors.Is(err, gogit.NoErrAlreadyUpToDate):
	case err != nil && strings.Contains(err.Error(), "non-fast-forward"):
		return "", sanitizeError(&marked{err, ErrRemoteMoved}, secrets)
	case err != nil:
		return "", sanitizeError(fmt.Errorf("unable to push to %s: %w (the commit is kept locally)", SanitizeURL(url), err), secrets)
	}
	return head.Name().Short(), nil
}
