package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/digitops/digitops/daemon"
	"github.com/digitops/digitops/daemon/web"
	"github.com/digitops/digitops/internal/fsutil"
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/internal/testenv"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// gitRepo is a local Git repository with a work tree the test commits to.
type gitRepo struct {
	t    *testing.T
	dir  string
	repo *gogit.Repository
	when time.Time
}

func newGitRepo(t *testing.T, from string) *gitRepo {
	t.Helper()
	dir := t.TempDir()
	if from != "" {
		copyTree(t, from, dir)
	}
	repo, err := gogit.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	return &gitRepo{t: t, dir: dir, repo: repo, when: time.Now().Add(-time.Minute)}
}

// commit writes files (relative path → content) and commits the whole tree.
func (g *gitRepo) commit(msg string, files map[string]string) string {
	g.t.Helper()
	for name, content := range files {
		path := filepath.Join(g.dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			g.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			g.t.Fatal(err)
		}
	}
	wt, err := g.repo.Worktree()
	if err != nil {
		g.t.Fatal(err)
	}
	if err := wt.AddWithOptions(&gogit.AddOptions{All: true}); err != nil {
		g.t.Fatal(err)
	}
	g.when = g.when.Add(time.Second)
	sig := &object.Signature{Name: "test", Email: "test@example.org", When: g.when}
	h, err := wt.Commit(msg, &gogit.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		g.t.Fatal(err)
	}
	return h.String()
}

func (g *gitRepo) read(name string) string {
	g.t.Helper()
	data, err := os.ReadFile(filepath.Join(g.dir, name))
	if err != nil {
		g.t.Fatal(err)
	}
	return string(data)
}

// copyTree copies the directory src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if err := fsutil.CopyTree(src, dst); err != nil {
		t.Fatal(err)
	}
}

// running is a daemon serving on a local port.
type running struct {
	url  string
	stop func()
}

func startDaemon(t *testing.T, opts daemon.Options) *running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startDaemonOn(t, ln, opts)
}

// startDaemonOn runs a daemon serving on ln.
func startDaemonOn(t *testing.T, ln net.Listener, opts daemon.Options) *running {
	t.Helper()
	opts.Listener = ln
	if opts.CacheDir == "" {
		opts.CacheDir = t.TempDir()
	}
	d, err := daemon.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	r := &running{url: "http://" + ln.Addr().String()}
	stopped := false
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon Run: %v", err)
			}
		case <-time.After(time.Minute):
			t.Error("daemon did not stop within a minute")
		}
	}
	t.Cleanup(r.stop)
	return r
}

func (r *running) get(t *testing.T, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r.do(t, req)
}

// do sends req and returns the status code and the body.
func (r *running) do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (r *running) status(t *testing.T) statusapi.Status {
	t.Helper()
	code, body := r.get(t, "/api/v1/status")
	if code != http.StatusOK {
		t.Fatalf("status: %d %s", code, body)
	}
	var st statusapi.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func (r *running) env(t *testing.T, name string) statusapi.Environment {
	t.Helper()
	for _, e := range r.status(t).Environments {
		if e.Name == name {
			return e
		}
	}
	return statusapi.Environment{}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}

// githubPush sends a GitHub push event for repo's master branch.
func githubPush(t *testing.T, r *running, repoURL, secret string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"ref":        "refs/heads/master",
		"repository": map[string]any{"clone_url": repoURL, "default_branch": "master"},
	})
	req, _ := http.NewRequest(http.MethodPost, r.url+"/hooks/github", bytes.NewReader(body))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", web.Sign(body, secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// metricValue returns the value of the series with exactly these labels.
func metricValue(t *testing.T, r *running, series string) (float64, bool) {
	t.Helper()
	_, body := r.get(t, "/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f, true
		}
	}
	return 0, false
}

const (
	webhookSecret = "test-webhook-secret"
	apiToken      = "test-api-token"
)

// post sends an empty POST with the bearer token (none when empty) and
// returns the status code.
func (r *running) post(t *testing.T, path, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// quickstartRepo is a Git repository holding examples/quickstart, without
// readiness waits (no controllers in this control plane).
func quickstartRepo(t *testing.T) *gitRepo {
	g := newGitRepo(t, "../examples/quickstart")
	cfg := g.read("digitops.yaml")
	cfg = strings.Replace(cfg, "      timeout: 2m\n", "      timeout: 2m\n      wait: false\n", 1)
	if !strings.Contains(cfg, "wait: false") {
		t.Fatal("could not turn off wait in the quickstart configuration")
	}
	g.commit("quickstart", map[string]string{"digitops.yaml": cfg})
	return g
}

func TestDaemon_commitWebhookAndFailingNeighbour(t *testing.T) {
	tenv := testenv.ForTest(t, testenv.Options{})
	good := quickstartRepo(t)
	broken := newGitRepo(t, "")
	broken.commit("broken", map[string]string{"digitops.yaml": "environments:\n  - name: broken\n    layout: native\n    releases: [{name: x\n"})
	r := startDaemon(t, daemon.Options{
		Sources: []daemon.SourceOptions{
			{URL: good.dir},
			{URL: broken.dir, Environments: []string{"broken"}},
		},
		Cluster: func(context.Context, manifest.ClusterRef) (*kube.Cluster, error) {
			return kube.NewCluster(tenv.Config)
		},
		Interval: time.Hour, // only webhooks wake the loops after the first sync
		Debounce: 200 * time.Millisecond,
		Webhooks: daemon.WebhookSecrets{GitHub: webhookSecret},
		APIToken: apiToken,
	})

	// 1. The first sync installs everything; the broken neighbour fails alone.
	waitFor(t, 2*time.Minute, "dev in sync", func() bool { return r.env(t, "dev").Phase == statusapi.PhaseInSync })
	dev := r.env(t, "dev")
	if len(dev.Releases) != 4 {
		t.Fatalf("dev releases = %+v, want 4", dev.Releases)
	}
	for _, rel := range dev.Releases {
		if rel.Phase != statusapi.PhaseInSync || rel.Revision != 1 {
			t.Errorf("release %s: phase %s revision %d, want in-sync at 1", rel.Name, rel.Phase, rel.Revision)
		}
	}
	if v, _ := metricValue(t, r, `digitops_sync_total{environment="dev",result="success"}`); v != 1 {
		t.Errorf(`sync_total{dev,success} = %v, want 1`, v)
	}
	waitFor(t, 30*time.Second, "broken failing", func() bool { return r.env(t, "broken").Phase == statusapi.PhaseFailing })
	if e := r.env(t, "broken"); !strings.Contains(e.LastError, "digitops.yaml") {
		t.Errorf("broken lastError = %q, want it to name digitops.yaml", e.LastError)
	}
	if v, _ := metricValue(t, r, `digitops_sync_total{environment="broken",result="failure"}`); v < 1 {
		t.Errorf("sync_total{broken,failure} = %v, want >= 1", v)
	}
	if code, _ := r.get(t, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d after the first load", code)
	}
	if !strings.Contains(dev.Revision, "sha1:") {
		t.Errorf("dev revision = %q", dev.Revision)
	}

	// 2. A new commit and a push with a bad signature: 401, nothing synced.
	// A key every service renders (an env entry): an unread key would be
	// recorded without a new revision.
	values := strings.Replace(good.read("environments/dev.yaml"), "env:\n", "env:\n  NOTE: \"changed\"\n", 1)
	commit := good.commit("change values", map[string]string{"environments/dev.yaml": values})
	syncs, _ := metricValue(t, r, `digitops_sync_total{environment="dev",result="success"}`)
	if code := githubPush(t, r, good.dir, "wrong-secret"); code != http.StatusUnauthorized {
		t.Errorf("bad signature: %d, want 401", code)
	}
	time.Sleep(time.Second)
	if got, _ := metricValue(t, r, `digitops_sync_total{environment="dev",result="success"}`); got != syncs {
		t.Errorf("a bad signature triggered a sync (%v → %v)", syncs, got)
	}
	if strings.Contains(r.env(t, "dev").Revision, commit) {
		t.Fatal("the new commit was deployed after a badly signed push")
	}

	// 3. A good push deploys the new commit within seconds.
	pushed := time.Now()
	if code := githubPush(t, r, good.dir, webhookSecret); code != http.StatusAccepted {
		t.Fatalf("good push: %d, want 202", code)
	}
	waitFor(t, 20*time.Second, "the new commit deployed", func() bool {
		e := r.env(t, "dev")
		return strings.Contains(e.Revision, commit) && e.Phase == statusapi.PhaseInSync
	})
	t.Logf("commit deployed %s after the push", time.Since(pushed).Round(time.Millisecond))
	for _, rel := range r.env(t, "dev").Releases {
		want := 2
		if rel.Name == "egov-config" { // does not read environments/dev.yaml
			want = 1
		}
		if rel.Revision != want {
			t.Errorf("after the push %s is at revision %d, want %d", rel.Name, rel.Revision, want)
		}
	}
	_, metricsBody := r.get(t, "/metrics")
	if !strings.Contains(metricsBody, fmt.Sprintf(`sha1:%s"} 1`, commit)) {
		t.Errorf("revision info of the new commit missing")
	}
	if n := strings.Count(metricsBody, `digitops_source_revision_info{environment="dev"`); n != 1 {
		t.Errorf("%d revision info series for dev, want 1", n)
	}
	if !strings.Contains(metricsBody, `digitops_commit_to_deploy_seconds_count{environment="dev"} 1`) {
		t.Error("commit_to_deploy not observed once")
	}

	// 4. Suspending a release makes the next sync skip it: with the API
	// token only, and only a release the environment has.
	for _, tc := range []struct {
		path, token string // the request
		want        int    // its status
	}{
		{"/api/v1/environments/dev/releases/egov-user/suspend", "", http.StatusUnauthorized},
		{"/api/v1/environments/dev/releases/egov-user/suspend", "wrong", http.StatusUnauthorized},
		{"/api/v1/environments/dev/releases/no-such-release/suspend", apiToken, http.StatusNotFound},
		{"/api/v1/environments/nope/suspend", apiToken, http.StatusNotFound},
		{"/api/v1/environments/dev/releases/egov-user/suspend", apiToken, http.StatusOK},
	} {
		if got := r.post(t, tc.path, tc.token); got != tc.want {
			t.Fatalf("POST %s with token %q: %d, want %d", tc.path, tc.token, got, tc.want)
		}
	}
	values = strings.Replace(values, `NOTE: "changed"`, `NOTE: "again"`, 1)
	commit = good.commit("change values again", map[string]string{"environments/dev.yaml": values})
	githubPush(t, r, good.dir, webhookSecret)
	waitFor(t, 20*time.Second, "the third commit synced", func() bool { return strings.Contains(r.env(t, "dev").Revision, commit) })
	for _, rel := range r.env(t, "dev").Releases {
		if rel.Name == "egov-user" && (rel.Phase != statusapi.PhaseSuspended || rel.Revision != 2) {
			t.Errorf("suspended egov-user: phase %s revision %d, want suspended at 2", rel.Phase, rel.Revision)
		}
		if rel.Name == "pgr-services" && rel.Revision != 3 {
			t.Errorf("pgr-services revision %d, want 3", rel.Revision)
		}
	}
	r.stop()
}

// TestDaemon_unchangedIsCheap: a second pass over an unchanged revision and
// cluster neither loads nor plans.
func TestDaemon_unchangedIsCheap(t *testing.T) {
	tenv := testenv.ForTest(t, testenv.Options{})
	good := quickstartRepo(t)
	cfg := good.read("digitops.yaml")
	good.commit("fast interval", map[string]string{"digitops.yaml": strings.Replace(cfg, "interval: 1m", "interval: 300ms", 1)})
	r := startDaemon(t, daemon.Options{
		Sources: []daemon.SourceOptions{{URL: good.dir}},
		Cluster: func(context.Context, manifest.ClusterRef) (*kube.Cluster, error) {
			return kube.NewCluster(tenv.Config)
		},
		Jitter: -1,
	})
	waitFor(t, 2*time.Minute, "unchanged syncs", func() bool {
		v, _ := metricValue(t, r, `digitops_sync_total{environment="dev",result="unchanged"}`)
		return v >= 3
	})
	if v, _ := metricValue(t, r, `digitops_sync_total{environment="dev",result="success"}`); v != 1 {
		t.Errorf("full syncs = %v, want 1 (the rest unchanged)", v)
	}
	if e := r.env(t, "dev"); e.Phase != statusapi.PhaseInSync {
		t.Errorf("phase = %s", e.Phase)
	}
}

func fmtSscan(s string, v *float64) (int, error) { return fmt.Sscan(s, v) }

// TestDaemon_digitWarningsAndErrors: a DIGIT release chart that lists a
// service twice and names one with no chart. The daemon installs the rest,
// shows the release in error as failing with its file and line, fails the
// sync naming it, and shows the warning in its status.
func TestDaemon_digitWarningsAndErrors(t *testing.T) {
	tenv := testenv.ForTest(t, testenv.Options{})
	g := newGitRepo(t, "../examples/digit")
	const chartFile = "config-as-code/product-release-charts/DEMO/release-chart-v1.0.0.yaml"
	rc := g.read(chartFile)
	rc = strings.Replace(rc, "      - example/catalog:2.0.1\n", "      - example/catalog:2.0.0\n      - example/catalog:2.0.1\n", 1)
	rc = strings.Replace(rc, "      - registry.example.org/example/portal\n", "      - registry.example.org/example/portal\n      - example/nochart:1.0.0\n", 1)
	cfg := strings.Replace(g.read("digitops.yaml"), "sync: {interval: 1m, prune: true, drift: correct}", "sync: {interval: 1m, prune: true, drift: correct, wait: false}", 1)
	if !strings.Contains(rc, "nochart") || !strings.Contains(cfg, "wait: false") {
		t.Fatal("could not edit the DIGIT example")
	}
	g.commit("a service twice, a service with no chart", map[string]string{chartFile: rc, "digitops.yaml": cfg})
	r := startDaemon(t, daemon.Options{
		Sources: []daemon.SourceOptions{{URL: g.dir, Environments: []string{"demo"}}},
		Cluster: func(context.Context, manifest.ClusterRef) (*kube.Cluster, error) {
			return kube.NewCluster(tenv.Config)
		},
		Interval: time.Hour,
	})
	waitFor(t, 3*time.Minute, "the first sync of demo", func() bool { return r.env(t, "demo").LastSync != nil })
	e := r.env(t, "demo")
	if e.Phase != statusapi.PhaseFailing || !strings.Contains(e.LastError, "nochart") {
		t.Errorf("demo: phase %s, lastError %q; want failing, naming nochart", e.Phase, e.LastError)
	}
	if len(e.Warnings) != 1 || e.Warnings[0].File != chartFile || !strings.Contains(e.Warnings[0].Msg, "listed twice") {
		t.Errorf("demo warnings = %+v, want one for catalog listed twice in %s", e.Warnings, chartFile)
	}
	installed := 0
	for _, rel := range e.Releases {
		switch {
		case rel.Name == "nochart":
			if rel.Phase != statusapi.PhaseFailing || !strings.Contains(rel.Error, chartFile+":") {
				t.Errorf("nochart: phase %s, error %q; want failing, naming %s and its line", rel.Phase, rel.Error, chartFile)
			}
		case rel.Phase == statusapi.PhaseInSync && rel.Revision == 1:
			installed++
		default:
			t.Errorf("release %s: phase %s (%s %s), want in-sync", rel.Name, rel.Phase, rel.Action, rel.Error)
		}
	}
	if installed < 5 {
		t.Errorf("%d releases installed beside the one in error, want the example's (over 5)", installed)
	}
	_, page := r.get(t, "/")
	if !strings.Contains(page, "listed twice") {
		t.Error("the status page does not show the warning")
	}
	// Without an API token the API is read-only, also for a cross-site form.
	if code := r.post(t, "/api/v1/environments/demo/suspend", ""); code != http.StatusForbidden {
		t.Errorf("suspend without a configured token: %d, want 403", code)
	}
	if e := r.env(t, "demo"); e.Suspended {
		t.Error("the environment was suspended without a token")
	}
}
