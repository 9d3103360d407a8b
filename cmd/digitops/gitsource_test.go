package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/digitops/digitops/internal/testenv"
)

// gitRepoFrom copies src into a new Git repository with one commit on the
// branch main and returns its directory and commit.
func gitRepoFrom(t *testing.T, src string) (string, string) {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := gogit.PlainInitWithOptions(dst, &gogit.PlainInitOptions{InitOptions: gogit.InitOptions{DefaultBranch: "refs/heads/main"}})
	if err != nil {
		t.Fatal(err)
	}
	wt, _ := r.Worktree()
	if err := wt.AddGlob("."); err != nil {
		t.Fatal(err)
	}
	h, err := wt.Commit("environment", &gogit.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.invalid", When: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	return dst, h.String()
}

// TestPlan_gitURLAndRef: --repo takes a Git URL and --ref a branch; the plan
// names the revision it was made from.
func TestPlan_gitURLAndRef(t *testing.T) {
	env := testenv.ForTest(t, testenv.Options{})
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir, commit := gitRepoFrom(t, "../../examples/quickstart")
	// Uncommitted changes in the directory must not be read through a URL.
	if err := os.WriteFile(filepath.Join(dir, "digitops.yaml"), []byte("broken: ["), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--repo", "file://" + dir, "--ref", "main"},
		{"--repo", dir, "--ref", "sha1:" + commit},
	} {
		var out, errOut bytes.Buffer
		argv := append([]string{"plan", "--env", "dev", "-o", "json", "--kubeconfig", env.Kubeconfig}, args...)
		if code := run(context.Background(), argv, streams{in: strings.NewReader(""), out: &out, err: &errOut}); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
		}
		var got struct {
			Revision string
			Summary  struct{ Install int }
		}
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		if !strings.HasSuffix(got.Revision, "sha1:"+commit) {
			t.Errorf("%v: revision = %q, want it to end in sha1:%s", args, got.Revision, commit)
		}
		if got.Summary.Install != 4 {
			t.Errorf("%v: %d installs, want 4", args, got.Summary.Install)
		}
	}
}

// A local directory is read as it is, ignored files included; a chart file
// Git ignores (a Chart.lock) is one serve will not see: plan says so.
func TestPlan_localDirectoryWarnsOfIgnoredChartFiles(t *testing.T) {
	src := writeRepo(t, map[string]string{
		"digitops.yaml":                "environments:\n  - name: dev\n    layout: native\n    releases:\n      - {name: a, namespace: egov, chart: charts/app}\n",
		".gitignore":                   "Chart.lock\n*.tgz\n",
		"charts/app/Chart.yaml":        okChart,
		"charts/app/templates/cm.yaml": okTemplate,
	})
	repo, _ := gitRepoFrom(t, src)
	ctx := testContext(t)
	r := runCLI(t, ctx, "plan", "--offline", "--repo", repo)
	if r.code != 0 || strings.Contains(r.out, "Git ignores") {
		t.Fatalf("plan with nothing ignored: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.out, r.stderr)
	}
	for _, f := range []string{"charts/app/Chart.lock", "charts/app/charts/dep-0.1.0.tgz"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(repo, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r = runCLI(t, ctx, "plan", "--offline", "--repo", repo)
	if want := "warning: charts/app/Chart.lock: Git ignores 2 file(s) of the charts (charts/app/Chart.lock, charts/app/charts/dep-0.1.0.tgz): this directory is read as it is, but serve syncs commits"; !strings.Contains(r.out, want) {
		t.Errorf("plan does not warn %q:\nstdout:\n%s\nstderr:\n%s", want, r.out, r.stderr)
	}
}
