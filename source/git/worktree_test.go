package git

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/gittestserver"
	gogit "github.com/go-git/go-git/v5"
)

// TestWorktree_commitAndPush: a clean clone commits the files it is given
// and pushes them; the refusals are the errors callers test for.
func TestWorktree_commitAndPush(t *testing.T) {
	ctx := context.Background()
	t.Setenv("GIT_AUTHOR_NAME", "CI")
	t.Setenv("GIT_AUTHOR_EMAIL", "ci@example.org")
	srv := gittestserver.NewGitServer(t.TempDir()).AutoCreate()
	if err := srv.StartHTTP(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.StopHTTP)
	fixture := t.TempDir()
	if err := os.WriteFile(filepath.Join(fixture, "env.yaml"), []byte("tag: v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := srv.InitRepo(fixture, "main", "envs.git"); err != nil {
		t.Fatal(err)
	}
	url := srv.HTTPAddress() + "/envs.git"
	clone := func() string {
		dir := t.TempDir()
		if _, err := gogit.PlainClone(dir, false, &gogit.CloneOptions{URL: url}); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	dir := clone()

	if _, err := OpenWorktree(t.TempDir()); !errors.Is(err, ErrNotGitRepository) {
		t.Errorf("OpenWorktree outside a clone: %v, want ErrNotGitRepository", err)
	}
	w, err := OpenWorktree(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.CheckClean(); err != nil {
		t.Fatalf("fresh clone: %v", err)
	}
	path := filepath.Join(dir, "env.yaml")
	if err := os.WriteFile(path, []byte("tag: v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := w.CheckClean(); !errors.Is(err, ErrDirtyWorktree) || !strings.Contains(err.Error(), "(env.yaml)") {
		t.Errorf("edited clone: %v, want ErrDirtyWorktree naming env.yaml", err)
	}
	hash, err := w.Commit([]string{path}, "deploy(dev): v2\n")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Push(ctx, "upstream", Auth{}); !errors.Is(err, ErrNoRemote) {
		t.Errorf("Push to a missing remote: %v, want ErrNoRemote", err)
	}
	branch, err := w.Push(ctx, "origin", Auth{})
	if err != nil || branch == "" {
		t.Fatalf("Push = %q, %v", branch, err)
	}
	other := clone()
	repo, err := gogit.PlainOpen(other)
	if err != nil {
		t.Fatal(err)
	}
	head, err := repo.Head()
	if err != nil || head.Hash().String() != hash || head.Name().Short() != branch {
		t.Fatalf("pushed %s = %v (%v), want %s", branch, head, err, hash)
	}
	c, err := repo.CommitObject(head.Hash())
	if err != nil || c.Author.Name != "CI" || c.Message != "deploy(dev): v2\n" {
		t.Fatalf("pushed commit %v: %+v", err, c)
	}

	// Another clone pushes first: the next push is refused, the commit kept.
	ow, err := OpenWorktree(other)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "other.yaml"), []byte("x: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ow.Commit([]string{filepath.Join(other, "other.yaml")}, "elsewhere\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := ow.Push(ctx, "origin", Auth{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("tag: v3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit([]string{path}, "deploy(dev): v3\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Push(ctx, "origin", Auth{}); !errors.Is(err, ErrRemoteMoved) {
		t.Errorf("Push behind the remote: %v, want ErrRemoteMoved", err)
	}
}
