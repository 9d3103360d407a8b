package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/gittestserver"
	gogit "github.com/go-git/go-git/v5"
)

// serveRepo serves a copy of fixture over HTTP with gittestserver and
// returns a fresh clone of it and the repository URL.
func serveRepo(t *testing.T, fixture string) (clone, url string) {
	t.Helper()
	srv := gittestserver.NewGitServer(t.TempDir()).AutoCreate()
	if err := srv.StartHTTP(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.StopHTTP)
	if err := srv.InitRepo(fixture, "main", "envs.git"); err != nil {
		t.Fatal(err)
	}
	url = srv.HTTPAddress() + "/envs.git"
	return cloneRepo(t, url), url
}

func cloneRepo(t *testing.T, url string) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := gogit.PlainClone(dir, false, &gogit.CloneOptions{URL: url}); err != nil {
		t.Fatalf("clone %s: %v", url, err)
	}
	return dir
}

// changedLines returns the indexes of the lines that differ; the files must
// have the same number of lines.
func changedLines(t *testing.T, before, after string) []int {
	t.Helper()
	a, b := strings.Split(before, "\n"), strings.Split(after, "\n")
	if len(a) != len(b) {
		t.Fatalf("line count changed: %d -> %d", len(a), len(b))
	}
	var out []int
	for i := range a {
		if a[i] != b[i] {
			out = append(out, i+1)
		}
	}
	return out
}

// TestSetImage_digitRoundTrip sets a service's tag in the DIGIT release
// chart of a repository served over HTTP: the app and -db lines change,
// every other byte stays, the commit is pushed and deployable.
func TestSetImage_digitRoundTrip(t *testing.T) {
	ctx := testContext(t)
	t.Setenv("GIT_AUTHOR_NAME", "CI")
	t.Setenv("GIT_AUTHOR_EMAIL", "ci@example.org")
	clone, url := serveRepo(t, "../../examples/digit")
	const chart = "config-as-code/product-release-charts/DEMO/release-chart-v1.0.0.yaml"
	before, err := os.ReadFile(filepath.Join(clone, chart))
	if err != nil {
		t.Fatal(err)
	}

	// --dry-run prints the diff and changes nothing.
	r := runCLI(t, ctx, "set-image", "--repo", clone, "demo", "grievance:3.2.0-ffff", "--dry-run")
	if r.code != 0 {
		t.Fatalf("dry run: exit %d: %s", r.code, r.stderr)
	}
	assertGolden(t, "setimage-digit.diff", r.out)
	if now, _ := os.ReadFile(filepath.Join(clone, chart)); string(now) != string(before) {
		t.Fatal("--dry-run changed the file")
	}

	// The real thing: commit and push.
	r = runCLI(t, ctx, "set-image", "--repo", clone, "demo", "grievance:3.2.0-ffff")
	if r.code != 0 || !strings.Contains(r.out, " to origin\n") {
		t.Fatalf("set-image: exit %d\n%s%s", r.code, r.out, r.stderr)
	}
	fresh := cloneRepo(t, url)
	after, err := os.ReadFile(filepath.Join(fresh, chart))
	if err != nil {
		t.Fatal(err)
	}
	lines := changedLines(t, string(before), string(after))
	if len(lines) != 2 {
		t.Fatalf("changed lines %v, want the two grievance lines", lines)
	}
	for _, want := range []string{"      - example/grievance:3.2.0-ffff\n", "      - example/grievance-db:3.2.0-ffff\n"} {
		if !strings.Contains(string(after), want) {
			t.Errorf("pushed release chart lacks %q", want)
		}
	}
	repo, err := gogit.PlainOpen(fresh)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := repo.Head()
	c, err := repo.CommitObject(head.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.Message, "deploy(demo): grievance 3.2.0-ffff\n") || c.Author.Name != "CI" {
		t.Errorf("commit = %q by %q", c.Message, c.Author.Name)
	}
	// The pushed repository plans with the new tag.
	r = runCLI(t, ctx, "render", "--repo", fresh, "--env", "demo", "--release", "grievance")
	if r.code != 0 || !strings.Contains(r.out, "example/grievance:3.2.0-ffff") {
		t.Errorf("render of the pushed repository: exit %d, no new image\n%s%s", r.code, r.out, r.stderr)
	}

	// Refusals: an unknown name, a dirty working tree. Nothing is committed.
	for _, tc := range []struct {
		// name describes the case; dirty plants an uncommitted file.
		name  string
		args  []string
		dirty bool
		// want is in the error message.
		want string
	}{
		{name: "unknown", args: []string{"demo", "nope:1.0"}, want: "unknown service(s) nope in " + chart + "; known: accounts, accounts-replica, cache, catalog, grievance, portal"},
		{name: "bad tag", args: []string{"demo", "grievance"}, want: `invalid argument "grievance": want NAME:TAG`},
		{name: "unknown env", args: []string{"prod", "grievance:1"}, want: `unknown environment "prod"`},
		{name: "dirty", args: []string{"demo", "grievance:9.9.9"}, dirty: true, want: "the working tree has uncommitted changes (notes.txt): commit or stash them first"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.dirty {
				if err := os.WriteFile(filepath.Join(clone, "notes.txt"), []byte("wip\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				defer os.Remove(filepath.Join(clone, "notes.txt"))
			}
			repo, _ := gogit.PlainOpen(clone)
			headBefore, _ := repo.Head()
			r := runCLI(t, ctx, append([]string{"set-image", "--repo", clone}, tc.args...)...)
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q, want it to contain %q", r.code, r.stderr, tc.want)
			}
			headAfter, _ := repo.Head()
			if headAfter.Hash() != headBefore.Hash() {
				t.Error("a refused set-image committed")
			}
		})
	}
}

// TestSetImage_valuesLayouts edits values files: the native layout's inline
// values (image.tag added, comments kept) and the helmfile environment file.
func TestSetImage_valuesLayouts(t *testing.T) {
	ctx := testContext(t)
	for _, tc := range []struct {
		// fixture is the example repository; args the set-image arguments.
		fixture string
		args    []string
		// golden is the --dry-run diff.
		golden string
	}{
		{"../../examples/quickstart", []string{"dev", "egov-user:v1.1.0"}, "setimage-native.diff"},
		{"../../examples/helmfile", []string{"demo", "egov-user:1.10", "pgr-services:2.0.0"}, "setimage-helmfile.diff"},
	} {
		clone, _ := serveRepo(t, tc.fixture)
		r := runCLI(t, ctx, append([]string{"set-image", "--repo", clone, "--dry-run"}, tc.args...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, r.code, r.stderr)
		}
		assertGolden(t, tc.golden, r.out)
		r = runCLI(t, ctx, append([]string{"set-image", "--repo", clone, "--no-push"}, tc.args...)...)
		if r.code != 0 || !strings.Contains(r.out, "Committed ") {
			t.Fatalf("%v: exit %d\n%s%s", tc.args, r.code, r.out, r.stderr)
		}
		// The edited repository renders the new tag.
		name, tag, _ := strings.Cut(tc.args[1], ":")
		r = runCLI(t, ctx, "render", "--repo", clone, "--env", tc.args[0], "--release", name, "--values")
		if r.code != 0 || !strings.Contains(r.out, "tag: \""+tag+"\"") && !strings.Contains(r.out, "tag: "+tag+"\n") {
			t.Errorf("%v: values after set-image lack tag %s:\n%s%s", tc.args, tag, r.out, r.stderr)
		}
	}
}

// TestSetImage_maxFileSize: --max-file-size caps what set-image reads, as it
// does for the loaders; the refusal names the file and nothing is written.
func TestSetImage_maxFileSize(t *testing.T) {
	ctx := testContext(t)
	clone, _ := serveRepo(t, "../../examples/digit")
	const chart = "config-as-code/product-release-charts/DEMO/release-chart-v1.0.0.yaml"
	path := filepath.Join(clone, chart)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	grown := append(data, []byte("# "+strings.Repeat("x", 2000)+"\n")...)
	if err := os.WriteFile(path, grown, 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, ctx, "set-image", "--repo", clone, "--max-file-size", "1500", "--dry-run", "demo", "grievance:3.2.0-ffff")
	want := chart + ": is larger than 1500 bytes"
	if r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, stderr %q, want it to contain %q", r.code, r.stderr, want)
	}
	if r.out != "" {
		t.Errorf("printed %q, want nothing", r.out)
	}
}
