package daemon_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitops/digitops/daemon"
	"github.com/digitops/digitops/internal/browsertest"
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/internal/testenv"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// TestDaemon_consoleInChromium is the console in headless Chromium on a
// real daemon serving examples/quickstart (dev) and examples/digit (demo)
// on real control planes (one per example):
//   - the overview lists both, in sync, from the daemon's status;
//   - a commit (whose subject carries markup) shows up in dev's row
//     without a reload: new commit, its subject as text, its author;
//   - without the token the buttons are disabled; with it, sync now adds a
//     manual sync to dev's history;
//   - the release view lists egov-user's Helm revisions with the commit
//     each came from; an emergency rollback through the page (after its
//     confirm step) rolls it back to revision 1 and holds it, the banner
//     says so; resume through the page lets the next sync put it back;
//   - the digit environment's view lists its releases;
//   - a screenshot of each view, under $DIGITOPS_ARTIFACTS/console-daemon.
func TestDaemon_consoleInChromium(t *testing.T) {
	bin := browsertest.Chromium(t)
	// Two clusters: both examples make ConfigMap egov/egov-config.
	tenv, digitEnv := testenv.ForTest(t, testenv.Options{}), testenv.ForTest(t, testenv.Options{})
	quick := quickstartRepo(t)
	digit := newGitRepo(t, "../examples/digit")
	cfg := strings.Replace(digit.read("digitops.yaml"), "sync: {interval: 1m, prune: true, drift: correct}", "sync: {interval: 1m, prune: true, drift: correct, wait: false}", 1)
	if !strings.Contains(cfg, "wait: false") {
		t.Fatal("could not turn off wait in the DIGIT example")
	}
	digit.commit("demo without readiness waits", map[string]string{"digitops.yaml": cfg})
	r := startDaemon(t, daemon.Options{
		Sources: []daemon.SourceOptions{{URL: quick.dir}, {URL: digit.dir, Environments: []string{"demo"}}},
		Cluster: func(_ context.Context, ref manifest.ClusterRef) (*kube.Cluster, error) {
			if ref.Context == "demo" {
				return kube.NewCluster(digitEnv.Config)
			}
			return kube.NewCluster(tenv.Config)
		},
		Home:     tenv.Config,
		Interval: time.Hour,
		APIToken: apiToken,
	})
	waitFor(t, 3*time.Minute, "dev and demo in sync", func() bool {
		for _, name := range []string{"dev", "demo"} {
			if e := r.env(t, name); e.Phase != statusapi.PhaseInSync {
				if e.LastSync != nil && e.LastSync.Result == "failure" {
					t.Fatalf("%s failed: %s %+v", name, e.LastError, e.Releases)
				}
				return false
			}
		}
		return true
	})
	dir := browsertest.ArtifactDir(t, "console-daemon")
	b := browsertest.Start(t, bin)
	tab := b.NewTab(1280, 900, false, false)
	text := func(sel string) string {
		return tab.Str(`(document.querySelector('` + sel + `') || {textContent: '(missing)'}).textContent`)
	}
	rows := func(sel, key string) string {
		return tab.Str(`[...document.querySelectorAll('` + sel + `')].map(r => r.getAttribute('` + key + `') + ':' + r.dataset.phase).join(',')`)
	}
	click := func(sel string) {
		t.Helper()
		tab.Must(`document.querySelector('`+sel+`').click()`, nil)
	}

	// The overview, live.
	tab.Navigate(r.url + "/")
	tab.WaitFor(`+document.body.dataset.liveUpdates >= 1`, 10*time.Second, "the first status event")
	if got, want := rows("#environments tbody tr", "data-environment"), "demo:in-sync,dev:in-sync"; got != want {
		t.Errorf("overview rows %s, want %s", got, want)
	}
	first := r.env(t, "dev").Commit
	if row := text(`tr[data-environment="dev"]`); !strings.Contains(row, first[:7]) || !strings.Contains(row, "quickstart") {
		t.Errorf("dev's row lacks its commit %s and subject: %q", first[:7], row)
	}
	tab.Screenshot(filepath.Join(dir, "overview.png"))

	// A commit appears without a reload; its subject stays text.
	tab.Must(`window.__sameDocument = 'yes'`, nil)
	const subject = `egov-user: <b id="inj">JAVA_OPTS</b> for dev`
	second := quick.commit(subject+"\n\nthe body is not shown", map[string]string{
		"environments/dev.yaml": strings.Replace(quick.read("environments/dev.yaml"), `-Xmx128m`, `-Xmx192m`, 1),
	})
	if code := r.post(t, "/api/v1/environments/dev/sync", apiToken); code != http.StatusOK {
		t.Fatalf("sync after the commit: %d", code)
	}
	tab.WaitFor(`document.querySelector('tr[data-environment="dev"] code').textContent === '`+second[:7]+`'`, 2*time.Minute, "dev's row at the new commit")
	if !tab.Bool(`window.__sameDocument === 'yes'`) {
		t.Error("the overview was reloaded to show the commit")
	}
	if got := text(`tr[data-environment="dev"] .subject`); got != subject {
		t.Errorf("dev's commit subject %q, want %q as text", got, subject)
	}
	if tab.Bool(`document.getElementById('inj') !== null`) {
		t.Error("the commit subject's markup became an element")
	}
	if row := text(`tr[data-environment="dev"]`); !strings.Contains(row, "test, committed") {
		t.Errorf("dev's row does not name the commit's author: %q", row)
	}

	// Read-only without the token; sync now with it.
	tab.Navigate(r.url + "/environments/dev")
	if !tab.Bool(`[...document.querySelectorAll('button.action')].every(b => b.disabled && b.title === 'read-only: enter the API token')`) {
		t.Error("an action is enabled without a token")
	}
	manualSyncs := func() int {
		n := 0
		for _, e := range r.history(t, "dev", "").Entries {
			if e.Trigger == "manual" {
				n++
			}
		}
		return n
	}
	before := manualSyncs()
	tab.Must(`(() => { document.getElementById('api-token').value = '`+apiToken+`'; document.getElementById('token-form').requestSubmit(); })()`, nil)
	click(`button.action[data-path="/api/v1/environments/dev/sync"]`)
	tab.WaitFor(`document.getElementById('action-result').textContent === 'dev: sync asked'`, 10*time.Second, "the sync's result")
	waitFor(t, time.Minute, "a manual sync in dev's history", func() bool { return manualSyncs() > before })
	tab.Navigate(r.url + "/environments/dev")
	if got, want := rows("#releases tbody tr", "data-release"), "egov-config:in-sync,egov-mdms-service:in-sync,egov-user:in-sync,pgr-services:in-sync"; got != want {
		t.Errorf("dev's releases %s, want %s", got, want)
	}
	if got := tab.Str(`document.querySelector('table.history tbody tr td[data-label="Trigger"]').textContent`); got != "manual" {
		t.Errorf("dev's newest sync was triggered by %q, want manual", got)
	}
	tab.Screenshot(filepath.Join(dir, "environment.png"))

	// The release view: Helm's revisions, each with its commit.
	tab.Navigate(r.url + "/environments/dev/releases/egov-user")
	revisions := tab.Str(`[...document.querySelectorAll('#revisions tbody tr')].map(r => r.dataset.revision).join(',')`)
	if revisions != "2,1" {
		t.Fatalf("egov-user's revisions %s, want 2,1 (the install and the commit's upgrade)", revisions)
	}
	if row := text(`#revisions tbody tr[data-revision="2"]`); !strings.Contains(row, second[:7]) {
		t.Errorf("revision 2 does not name commit %s: %q", second[:7], row)
	}
	tab.Screenshot(filepath.Join(dir, "release.png"))

	// The emergency rollback, through the page.
	tab.Must(`(() => { document.getElementById('rollback-revision').value = '1'; document.getElementById('rollback').requestSubmit(); })()`, nil)
	tab.WaitFor(`document.querySelector('#rollback .confirm') !== null`, 5*time.Second, "the rollback's confirm step")
	if d := r.releaseDetail(t, "egov-user"); len(d.Revisions) != 2 {
		t.Fatalf("egov-user before the confirmation: %s", revisionsOf(d))
	}
	click(`#rollback .confirm button.danger`)
	tab.WaitFor(`document.getElementById('action-result').textContent.includes('rolled back to revision 1')`, time.Minute, "the rollback's result")
	if d := r.releaseDetail(t, "egov-user"); len(d.Revisions) == 0 || d.Revisions[0].Revision != 3 || d.RolledBack == nil {
		t.Errorf("egov-user after the rollback: revisions %s, rolled back %v; want 3 (a rollback to 1), held", revisionsOf(d), d.RolledBack)
	}
	tab.Navigate(r.url + "/environments/dev/releases/egov-user")
	if banner := text("#banners"); !strings.Contains(banner, "emergency rollback to Helm revision 1") {
		t.Errorf("the banner does not hold the rollback: %q", banner)
	}
	tab.Screenshot(filepath.Join(dir, "release-rolled-back.png"))
	// The hold lasts: a sync leaves the release alone.
	if code := r.post(t, "/api/v1/environments/dev/sync", apiToken); code != http.StatusOK {
		t.Fatalf("sync: %d", code)
	}
	time.Sleep(3 * time.Second)
	if d := r.releaseDetail(t, "egov-user"); len(d.Revisions) == 0 || d.Revisions[0].Revision != 3 {
		t.Errorf("a sync moved the rolled-back release: %s", revisionsOf(d))
	}
	click(`button.action[data-path="/api/v1/environments/dev/releases/egov-user/resume"]`)
	tab.WaitFor(`document.getElementById('action-result').textContent.startsWith('egov-user in dev: ')`, 10*time.Second, "the resume's result")
	waitFor(t, time.Minute, "egov-user upgraded again after the resume", func() bool {
		d := r.releaseDetail(t, "egov-user")
		return len(d.Revisions) > 0 && d.Revisions[0].Revision == 4 && d.Revisions[0].Commit == second
	})

	// The DIGIT environment's view.
	tab.Navigate(r.url + "/environments/demo")
	got := rows("#releases tbody tr", "data-release")
	if n := strings.Count(got, ":in-sync"); n < 5 || strings.Contains(got, ":failing") {
		t.Errorf("demo's releases %s, want the example's (over 5), in sync", got)
	}
	tab.Screenshot(filepath.Join(dir, "environment-digit.png"))

	if dialogs, exceptions := tab.Problems(); len(dialogs)+len(exceptions) > 0 {
		t.Errorf("dialogs %q, script exceptions %q", dialogs, exceptions)
	}
}

// rolloutInChromium checks rollout egov on r's overview in Chromium: its
// waves, each environment with the commit promoted to it, the current
// wave, as the status document has them, and the halt; it writes
// overview-rollout.png. Outside CI without Chromium it says so and
// returns (the rest of the calling test still runs).
func rolloutInChromium(t *testing.T, r *running, halted string) {
	t.Helper()
	bin, err := browsertest.Lookup()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Logf("the rollout is not checked in Chromium: %v", err)
		return
	}
	tab := browsertest.Start(t, bin).NewTab(1280, 900, false, false)
	tab.Navigate(r.url + "/")
	tab.WaitFor(`+document.body.dataset.liveUpdates >= 1`, 10*time.Second, "the first status event")
	var want []string
	for _, ro := range r.status(t).Rollouts {
		if ro.Name != "egov" {
			continue
		}
		for i, w := range ro.Waves {
			var envs []string
			for _, e := range w.Environments {
				at := "head"
				if e.Commit != "" {
					at = e.Commit[:7]
				}
				envs = append(envs, e.Name+" @ "+at)
			}
			current := ""
			if i+1 == ro.Wave {
				current = "*"
			}
			want = append(want, strconv.Itoa(i+1)+current+"="+strings.Join(envs, "+"))
		}
	}
	got := tab.Str(`[...document.querySelectorAll('#rollout-egov tr[data-wave]')].map(r => r.dataset.wave + (r.getAttribute('aria-current') ? '*' : '') + '=' + [...r.querySelectorAll('[data-rollout-environment]')].map(a => a.textContent).join('+')).join(',')`)
	if len(want) == 0 || got != strings.Join(want, ",") {
		t.Errorf("rollout egov's waves in the console %s, in the status %s", got, strings.Join(want, ","))
	}
	if text := tab.Str(`document.getElementById('rollout-egov').textContent`); !strings.Contains(text, halted) {
		t.Errorf("the console's rollout does not say %q: %q", halted, text)
	}
	tab.Screenshot(filepath.Join(browsertest.ArtifactDir(t, "console-daemon"), "overview-rollout.png"))
	if dialogs, exceptions := tab.Problems(); len(dialogs)+len(exceptions) > 0 {
		t.Errorf("dialogs %q, script exceptions %q", dialogs, exceptions)
	}
}
