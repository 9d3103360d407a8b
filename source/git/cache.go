package git

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/go-git/go-billy/v5/osfs"
	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// The cache directory of one URL (<CacheDir>/<cacheKey>/) holds:
//
//	repo/           bare object store, fetched into incrementally
//	trees/<sha1>/   one checked-out work tree per commit, renamed into place
//	snapshot.json   the last good Snapshot, so it survives a restart
const (
	repoDirName   = "repo"
	treesDirName  = "trees"
	stateFileName = "snapshot.json"
)

// openRepo opens the bare repository at dir, creating it when absent. A
// directory that exists but does not open is reported, never repaired here:
// the caller decides to re-clone.
func openRepo(dir string) (*gogit.Repository, error) {
	st := filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRUDefault())
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		return gogit.Init(st, nil)
	}
	repo, err := gogit.Open(st, nil)
	if err != nil {
		return nil, fmt.Errorf("cached repository is unusable: %w", err)
	}
	return repo, nil
}

// commitOf returns the commit hash points at, peeling annotated tags.
func commitOf(repo *gogit.Repository, hash plumbing.Hash) (*object.Commit, error) {
	obj, err := repo.Object(plumbing.AnyObject, hash)
	if err != nil {
		return nil, err
	}
	for range 10 { // tags of tags, bounded
		switch o := obj.(type) {
		case *object.Commit:
			return o, nil
		case *object.Tag:
			if obj, err = o.Object(); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("object %s is a %s, not a commit", hash, obj.Type())
		}
	}
	return nil, fmt.Errorf("object %s: tag chain too long", hash)
}

// materialize writes the tree of commit to treesDir/<sha1>/ unless it is
// already there. The tree is written to a temporary directory and renamed
// into place, so a reader never sees a partial tree.
func materialize(commit *object.Commit, treesDir string) (string, error) {
	dst := filepath.Join(treesDir, commit.Hash.String())
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	if err := os.MkdirAll(treesDir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(treesDir, ".tmp-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp) // no-op after a successful rename
	tree, err := commit.Tree()
	if err != nil {
		return "", fmt.Errorf("unable to read tree of %s: %w", commit.Hash, err)
	}
	err = tree.Files().ForEach(func(f *object.File) error { return writeFile(tmp, f) })
	if err != nil {
		return "", fmt.Errorf("unable to check out %s: %w", commit.Hash, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", err
	}
	return dst, nil
}

// writeFile writes one blob under root, refusing paths that would escape it.
// Submodules (gitlinks) are not files and are skipped by Tree.Files.
func writeFile(root string, f *object.File) error {
	clean := path.Clean(f.Name)
	if clean != f.Name || strings.HasPrefix(clean, "../") || path.IsAbs(clean) ||
		strings.Contains("/"+clean+"/", "/.git/") {
		return fmt.Errorf("refusing unsafe path %q", f.Name)
	}
	name := filepath.Join(root, filepath.FromSlash(clean))
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	r, err := f.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	if f.Mode == filemode.Symlink {
		target, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		return os.Symlink(string(target), name)
	}
	perm := os.FileMode(0o644)
	if f.Mode == filemode.Executable {
		perm = 0o755
	}
	out, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// pruneTrees deletes the work trees of treesDir except those named in keep
// (the current and the previous snapshot, which a reader may still use) and
// leftovers of interrupted checkouts.
func pruneTrees(treesDir string, keep ...string) error {
	entries, err := os.ReadDir(treesDir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		dir := filepath.Join(treesDir, e.Name())
		if kept(dir, keep) {
			continue
		}
		errs = append(errs, os.RemoveAll(dir))
	}
	return errors.Join(errs...)
}

func kept(dir string, keep []string) bool {
	for _, k := range keep {
		if k != "" && filepath.Clean(k) == dir {
			return true
		}
	}
	return false
}

// saveState writes snap to file atomically (temp file + rename).
func saveState(file string, snap Snapshot) error {
	b, err := json.MarshalIndent(snap, "", "  ")
	if err != nil {
		return err
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// loadState reads the snapshot saved by saveState; ok is false when there is
// none or it is unreadable.
func loadState(file string) (snap Snapshot, ok bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		return Snapshot{}, false
	}
	if err := json.Unmarshal(b, &snap); err != nil || snap.Commit == "" || snap.Dir == "" {
		return Snapshot{}, false
	}
	return snap, true
}
