package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"

	"github.com/digitops/digitops/source/git"
	"github.com/digitops/digitops/source/manifest"
)

// isRemote says whether --repo names a Git URL rather than a local directory.
func isRemote(repo string) bool {
	// git's scp-like syntax: user@host:path.
	scpLike, _ := regexp.MatchString(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/]`, repo)
	return strings.Contains(repo, "://") || scpLike
}

// checkedOut is what checkout read: the directory, its revision, and the
// Git commit it holds ("" for a local directory read as it is: its files
// may differ from any commit).
type checkedOut struct {
	dir, revision, commit string
}

// checkout resolves --repo and --ref into a local directory and the revision
// it holds. A local directory without --ref is read as it is (uncommitted
// changes included, like terraform plan); a URL, or a local repository with
// --ref, is fetched with source/git into the cache.
func (o *globalOptions) checkout(ctx context.Context) (checkedOut, error) {
	if !isRemote(o.repo) && o.ref == "" {
		fi, err := os.Stat(o.repo)
		if err != nil || !fi.IsDir() {
			return checkedOut{}, fmt.Errorf("repository %q is not a directory or a Git URL (https://, ssh://, git@host:path, file://)", o.repo)
		}
		return checkedOut{dir: o.repo, revision: localRevision(o.repo)}, nil
	}
	cache, err := cacheDir("git")
	if err != nil {
		return checkedOut{}, err
	}
	auth, err := git.AuthFromEnv(os.LookupEnv)
	if err != nil {
		return checkedOut{}, err
	}
	url := o.repo
	if !isRemote(url) {
		if url, err = filepath.Abs(url); err != nil {
			return checkedOut{}, err
		}
	}
	client, err := git.New(git.Options{URL: url, Ref: git.ParseRef(o.ref), CacheDir: cache, Auth: auth})
	if err != nil {
		return checkedOut{}, err
	}
	snap, _, err := client.Fetch(ctx, "")
	if err != nil {
		return checkedOut{}, err
	}
	return checkedOut{dir: snap.Dir, revision: snap.Revision, commit: snap.Commit}, nil
}

// localRevision describes the HEAD of a local repository, or "" when the
// directory is not one.
func localRevision(dir string) string {
	r, err := gogit.PlainOpenWithOptions(dir, &gogit.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return ""
	}
	head, err := r.Head()
	if err != nil {
		return ""
	}
	name := head.Name().Short()
	if head.Name() == "HEAD" {
		name = "HEAD"
	}
	return fmt.Sprintf("%s@sha1:%s", name, head.Hash())
}

// cacheDir returns digitops's cache directory for kind.
func cacheDir(kind string) (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory: set XDG_CACHE_HOME: %w", err)
	}
	dir := filepath.Join(base, "digitops", kind)
	return dir, os.MkdirAll(dir, 0o755)
}

// maxIgnoredNamed is how many ignored files the warning names.
const maxIgnoredNamed = 5

// ignoredChartsWarning warns when the environment's local charts hold files
// that Git ignores in the repository holding dir (a Chart.lock, a built
// dependency): a local directory is read as it is, ignored files included,
// but serve syncs commits, which lack them, so its first sync would see
// another chart and upgrade the release. It returns false when there are
// none or dir is in no repository.
func ignoredChartsWarning(dir string, env *manifest.Environment) (manifest.Warning, bool) {
	r, err := gogit.PlainOpenWithOptions(dir, &gogit.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return manifest.Warning{}, false
	}
	wt, err := r.Worktree()
	if err != nil {
		return manifest.Warning{}, false
	}
	patterns, err := gitignore.ReadPatterns(wt.Filesystem, nil)
	if err != nil || len(patterns) == 0 {
		return manifest.Warning{}, false
	}
	root := wt.Filesystem.Root()
	match := gitignore.NewMatcher(patterns)
	seen := map[string]bool{}
	var ignored []string
	for _, spec := range env.Releases {
		chart := spec.Chart.Path
		if chart == "" || seen[chart] {
			continue
		}
		seen[chart] = true
		_ = filepath.WalkDir(chart, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			rel, err := filepath.Rel(root, path)
			if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
				return filepath.SkipDir
			}
			if rel != "." && match.Match(strings.Split(filepath.ToSlash(rel), "/"), d.IsDir()) {
				ignored = append(ignored, filepath.ToSlash(rel))
				if d.IsDir() {
					return filepath.SkipDir
				}
			}
			return nil
		})
	}
	if len(ignored) == 0 {
		return manifest.Warning{}, false
	}
	sort.Strings(ignored)
	named := ignored
	more := ""
	if len(named) > maxIgnoredNamed {
		named, more = named[:maxIgnoredNamed], fmt.Sprintf(" and %d more", len(ignored)-maxIgnoredNamed)
	}
	return manifest.Warning{File: ignored[0], Msg: fmt.Sprintf("Git ignores %d file(s) of the charts (%s%s): this directory is read as it is, but serve syncs commits, which lack them, and would upgrade the releases of those charts; commit them or delete them", len(ignored), strings.Join(named, ", "), more)}, true
}
