package web

import (
	"image"
	"image/png"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitops/digitops/internal/browsertest"
	"github.com/digitops/digitops/internal/statusapi"
)

// browserServer serves h; its streams end and it closes when the test
// ends.
func browserServer(t *testing.T, h *handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		h.closeStreams()
		srv.Close()
	})
	return srv
}

// canonical is a script returning a canonical form of an element (tags,
// sorted attributes, trimmed text), to compare the script's rendering of
// a row with the template's whatever their whitespace and attribute
// order.
const canonical = `function canon(n) {
  if (n.nodeType === 3) { const t = n.textContent.replace(/\s+/g, ' ').trim(); return t ? JSON.stringify(t) : ''; }
  if (n.nodeType !== 1) return '';
  const attrs = [...n.attributes].map(a => a.name + '=' + JSON.stringify(a.value)).sort().join(' ');
  return '<' + n.localName + ' ' + attrs + '>' + [...n.childNodes].map(canon).filter(Boolean).join('') + '</' + n.localName + '>';
}
function canonOf(n) { const c = n.cloneNode(true); c.normalize(); return canon(c); }`

// differences is a script returning how the live page's rows and
// rollouts differ from the server's rendering of the same page (fetched
// again): empty when the script renders what the templates do.
const differences = `(async () => {
  ` + canonical + `
  const doc = new DOMParser().parseFromString(await (await fetch(location.href)).text(), 'text/html');
  const out = [];
  const pairs = [['#environments tbody tr', 'data-environment'], ['#rollouts article', 'data-rollout']];
  for (const [sel, key] of pairs) {
    const served = [...doc.querySelectorAll(sel)], live = [...document.querySelectorAll(sel)];
    if (served.length !== live.length) out.push(sel + ': ' + served.length + ' served, ' + live.length + ' live');
    for (const s of served) {
      const l = live.find(n => n.getAttribute(key) === s.getAttribute(key));
      const a = canonOf(s), b = l ? canonOf(l) : '(none)';
      if (a !== b) out.push('served: ' + a + '\nlive:   ' + b);
    }
  }
  return out;
})()`

// TestConsole_chromium: the views in headless Chromium, on the
// quickstart's state: their rows, the filter, a live update without a
// reload, the actions with and without the token, the rollback's confirm
// step, a phone's layout, the views without JavaScript, and XSS probes
// inert. Screenshots go to $DIGITOPS_ARTIFACTS/console.
func TestConsole_chromium(t *testing.T) {
	if testing.Short() {
		t.Skip("runs headless Chromium: not a unit test (make test runs it)")
	}
	bin := browsertest.Chromium(t)
	fake := quickstart(time.Now())
	h := newHandler(fake, testOptions("tok"))
	h.events.poll = 100 * time.Millisecond
	srv := browserServer(t, h)
	dir := browsertest.ArtifactDir(t, "console")
	b := browsertest.Start(t, bin)
	tab := b.NewTab(1280, 900, false, false)
	rows := func(sel, key string) string {
		return tab.Str(`[...document.querySelectorAll('` + sel + `')].filter(r => !r.hidden).map(r => r.getAttribute('` + key + `') + ':' + r.dataset.phase).join(',')`)
	}
	contains := func(what, sel string, wants ...string) {
		t.Helper()
		got := tab.Str(`(document.querySelector('` + sel + `') || {textContent: '(missing)'}).textContent`)
		for _, w := range wants {
			if !strings.Contains(got, w) {
				t.Errorf("%s does not say %q: %q", what, w, got)
			}
		}
	}
	called := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !slices.Contains(fake.called(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("the backend was not asked %q; it was asked %q (toast: %q)", want, fake.called(), tab.Str(`document.getElementById('action-result').textContent`))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	click := func(sel string) {
		t.Helper()
		tab.Must(`document.querySelector('`+sel+`').click()`, nil)
	}

	// The overview: every environment, its rollout's waves, the banner;
	// the first status event re-renders the rows as the templates did.
	tab.Navigate(srv.URL + "/")
	tab.WaitFor(`+document.body.dataset.liveUpdates >= 1`, 10*time.Second, "the first status event")
	if got, want := rows("#environments tbody tr", "data-environment"), "dev:failing,prod-a:in-sync,prod-b:pending,qa:in-sync"; got != want {
		t.Errorf("overview rows %s, want %s", got, want)
	}
	contains("dev's row", `tr[data-environment="dev"]`, "4f1c0d2", "main", "committed 4m ago", "failure in 3.412s", "3m ago",
		"replica digitops-0", "1 failing", "1 drifted", "2 in-sync", "drift 1", "errors 2", "warnings 1", "1 release(s) failed: pgr-services")
	if got, want := tab.Str(`[...document.querySelectorAll('#rollout-egov tr[data-wave]')].map(r => r.dataset.wave + (r.getAttribute('aria-current') ? '*' : '') + '=' + [...r.querySelectorAll('[data-rollout-environment]')].map(a => a.textContent).join('+')).join(',')`),
		"1=dev @ head,2*=qa @ 4f1c0d2,3=prod-a @ 0123456+prod-b @ 0123456"; got != want {
		t.Errorf("rollout waves %s, want %s", got, want)
	}
	if !tab.Bool(`!document.getElementById('banners').hidden && document.getElementById('banner-list').textContent.includes('egov-user in prod-a: suspended')`) {
		t.Error("no banner for prod-a's egov-user, held by an emergency rollback")
	}
	var diffs []string
	tab.Must(differences, &diffs)
	for _, d := range diffs {
		t.Errorf("the script renders differently from the templates:\n%s", d)
	}
	if tab.Bool(`document.querySelector('meta[http-equiv="refresh"]') !== null`) {
		t.Error("the meta refresh is on with JavaScript")
	}
	shot := filepath.Join(dir, "overview.png")
	tab.Screenshot(shot)
	checkBadges(t, shot)

	// The filter, without a request: the rows and the address follow it.
	tab.Must(`(() => { const q = document.getElementById('filter-q'); q.value = 'prod'; q.dispatchEvent(new Event('input', {bubbles: true})); })()`, nil)
	if got := rows("#environments tbody tr", "data-environment"); got != "prod-a:in-sync,prod-b:pending" {
		t.Errorf("filtered by prod: %s", got)
	}
	tab.Must(`(() => { const p = document.getElementById('filter-phase'); p.value = 'in-sync'; p.dispatchEvent(new Event('change', {bubbles: true})); })()`, nil)
	if got := rows("#environments tbody tr", "data-environment"); got != "prod-a:in-sync" {
		t.Errorf("filtered by prod and in-sync: %s", got)
	}
	if got := tab.Str(`location.search + ' ' + document.getElementById('filter-count').textContent`); got != "?q=prod&phase=in-sync 1 of 4 environments shown" {
		t.Errorf("after filtering: %q", got)
	}
	tab.Must(`(() => { for (const id of ['filter-q', 'filter-phase']) { const f = document.getElementById(id); f.value = ''; f.dispatchEvent(new Event('change', {bubbles: true})); } })()`, nil)

	// A live update: qa drifts; its row changes, the others stay, the
	// page is not reloaded.
	tab.Must(`window.__sameDocument = 'yes'; document.querySelector('tr[data-environment="dev"]').__untouched = true`, nil)
	fake.setStatus(func(st *statusapi.Status) {
		qa := &st.Environments[3]
		qa.Releases = slices.Clone(qa.Releases)
		qa.Phase, qa.Releases[1].Phase = statusapi.PhaseDrifted, statusapi.PhaseDrifted
		qa.Releases[1].Drift = []statusapi.DriftItem{{Object: "Deployment/egov/egov-user", Path: "/spec/replicas", Kind: "changed", Before: "2", After: "3", Manager: "kubectl-scale"}}
	})
	tab.WaitFor(`document.querySelector('tr[data-environment="qa"]').dataset.phase === 'drifted'`, 10*time.Second, "qa's row to show it drifted")
	if !tab.Bool(`window.__sameDocument === 'yes' && document.querySelector('tr[data-environment="dev"]').__untouched === true`) {
		t.Error("the page was reloaded, or an unchanged row rebuilt")
	}
	contains("qa's row", `tr[data-environment="qa"]`, "drift 1", "1 drifted")
	contains("the counts", "#phase-counts", "1 drifted", "1 in-sync")

	// Without a token every action is disabled and says why; the API
	// refuses a request without it; the backend is asked nothing.
	if !tab.Bool(`[...document.querySelectorAll('button.action')].every(b => b.disabled && b.title === 'read-only: enter the API token')`) {
		t.Error("an action is enabled without a token")
	}
	if !tab.Bool(`document.querySelector('tr[data-environment="dev"] .readonly').offsetParent !== null`) {
		t.Error("the actions do not say they are read-only")
	}
	click(`tr[data-environment="dev"] button[data-path$="/retry"]`)
	if got := tab.Str(`fetch('/api/v1/environments/dev/retry', {method: 'POST'}).then(r => String(r.status))`); got != "401" {
		t.Errorf("a request without the token: %s, want 401", got)
	}
	time.Sleep(300 * time.Millisecond)
	if got := fake.called(); len(got) != 0 {
		t.Fatalf("the backend was asked %q without a token", got)
	}

	// With the token: the actions are enabled and call the API.
	tab.Must(`(() => { document.getElementById('api-token').value = 'tok'; document.getElementById('token-form').requestSubmit(); })()`, nil)
	if !tab.Bool(`[...document.querySelectorAll('button.action')].every(b => !b.disabled) && sessionStorage.getItem('digitops.apiToken') === 'tok' && document.cookie === ''`) {
		t.Error("the token did not enable the actions (or went elsewhere than sessionStorage)")
	}
	click(`tr[data-environment="dev"] button[data-path$="/retry"]`)
	called("retry dev")
	tab.WaitFor(`document.getElementById('action-result').textContent === 'dev: retry asked'`, 5*time.Second, "the retry's result")
	click(`tr[data-environment="qa"] button[data-path$="/sync"]`)
	called("sync qa")
	click(`tr[data-environment="dev"] button[data-path$="/suspend"]`)
	called("suspend dev")
	tab.WaitFor(`document.querySelector('tr[data-environment="dev"] button[data-path$="/resume"]')?.textContent === 'Resume'`, 5*time.Second, "suspend to become resume")
	click(`#rollout-egov button[data-path$="/abort"]`)
	tab.WaitFor(`document.querySelector('#rollout-egov .confirm')?.textContent.includes('Abort rollout egov?')`, 5*time.Second, "the abort's confirm step")
	if slices.Contains(fake.called(), "abort egov") {
		t.Fatal("the rollout was aborted before the confirmation")
	}
	click(`#rollout-egov .confirm button.danger`)
	called("abort egov")
	// A wrong token is refused, and the page says so.
	tab.Must(`sessionStorage.setItem('digitops.apiToken', 'wrong')`, nil)
	click(`tr[data-environment="qa"] button[data-path$="/retry"]`)
	tab.WaitFor(`document.getElementById('action-result').textContent.includes('failed (401): the token was refused')`, 5*time.Second, "the refusal of a wrong token")
	if slices.Contains(fake.called(), "retry qa") {
		t.Error("a wrong token reached the backend")
	}
	tab.Must(`sessionStorage.setItem('digitops.apiToken', 'tok')`, nil)

	// The environment view: releases in plan order then by phase, the
	// pending plan with its diff, the history newest first; it says when
	// the environment changed.
	tab.Navigate(srv.URL + "/environments/dev")
	if got, want := rows("#releases tbody tr", "data-release"), "egov-config:in-sync,egov-mdms-service:in-sync,egov-user:drifted,pgr-services:failing"; got != want {
		t.Errorf("dev's releases %s, want %s", got, want)
	}
	if got := tab.Str(`[...document.querySelectorAll('table.history tbody tr')].map(r => r.dataset.result).join(',')`); got != "failure,success,success" {
		t.Errorf("dev's history %s", got)
	}
	contains("the pending plan", "#plan-title + .scroll", "egov-user", "upgrade", "values changed", "pgr-services")
	contains("the diff", "pre.diff", "+   replicas: 3")
	contains("the banner", "#banners", "egov-user in prod-a")
	tab.Screenshot(filepath.Join(dir, "environment.png"))
	tab.Must(`(() => { const s = document.getElementById('filter-sort'); s.value = 'phase'; s.dispatchEvent(new Event('change', {bubbles: true})); })()`, nil)
	if got := rows("#releases tbody tr", "data-release"); !strings.HasPrefix(got, "pgr-services:failing,egov-user:drifted,") {
		t.Errorf("dev's releases by phase: %s", got)
	}
	tab.WaitFor(`+document.body.dataset.liveUpdates >= 1`, 10*time.Second, "the status event")
	if !tab.Bool(`document.getElementById('stale').hidden`) {
		t.Error("the environment view says it is stale though nothing changed")
	}
	fake.setStatus(func(st *statusapi.Status) {
		dev := &st.Environments[0]
		dev.LastSync = &statusapi.Sync{Started: time.Now(), Duration: "2s", Result: "success"}
	})
	tab.WaitFor(`!document.getElementById('stale').hidden`, 10*time.Second, "the view to say dev changed")

	// The release view: revisions, drift, order; the rollback asks first.
	tab.Navigate(srv.URL + "/environments/dev/releases/egov-user")
	if got := tab.Str(`[...document.querySelectorAll('#revisions tbody tr')].map(r => r.dataset.revision).join(',')`); got != "3,2,1" {
		t.Errorf("egov-user's revisions %s, want 3,2,1", got)
	}
	contains("the drift", "#drift", "/spec/replicas", "kubectl-edit")
	contains("the facts", "dl.facts", "egov-user-0.1.0", "egov-mdms-service", "pgr-services")
	tab.Screenshot(filepath.Join(dir, "release.png"))
	tab.Must(`(() => { document.getElementById('rollback-revision').value = '1'; document.getElementById('rollback').requestSubmit(); })()`, nil)
	tab.WaitFor(`document.querySelector('#rollback .confirm')?.textContent.includes('Roll egov-user in dev back to Helm revision 1?')`, 5*time.Second, "the rollback's confirm step")
	if !tab.Bool(`document.activeElement === document.querySelector('#rollback .confirm button.danger')`) {
		t.Error("the confirm step does not take the focus")
	}
	tab.Screenshot(filepath.Join(dir, "release-rollback-confirm.png"))
	if slices.ContainsFunc(fake.called(), func(c string) bool { return strings.HasPrefix(c, "rollback") }) {
		t.Fatal("rolled back before the confirmation")
	}
	click(`#rollback .confirm button.danger`)
	called("rollback dev/egov-user 1")
	tab.WaitFor(`document.getElementById('action-result').textContent.includes('rolled back to revision 1')`, 5*time.Second, "the rollback's result")

	// The release under an emergency rollback: its banner says so.
	tab.Navigate(srv.URL + "/environments/prod-a/releases/egov-user")
	contains("the banner", "#banners", "emergency rollback to Helm revision 2")

	if dialogs, exceptions := tab.Problems(); len(dialogs)+len(exceptions) > 0 {
		t.Errorf("dialogs %q, script exceptions %q", dialogs, exceptions)
	}

	// A phone: the rows become cards, nothing scrolls sideways.
	phone := b.NewTab(412, 900, true, false)
	for _, v := range []struct{ path, name string }{{"/", "overview-phone.png"}, {"/environments/dev", "environment-phone.png"}, {"/environments/dev/releases/egov-user", "release-phone.png"}} {
		phone.Navigate(srv.URL + v.path)
		if !phone.Bool(`document.documentElement.scrollWidth <= window.innerWidth`) {
			t.Errorf("%s scrolls sideways on a phone (%s px wide)", v.path, phone.Str(`String(document.documentElement.scrollWidth)`))
		}
		if !phone.Bool(`getComputedStyle(document.querySelector('table.cards tbody tr')).display === 'block'`) {
			t.Errorf("%s: the rows are not cards on a phone", v.path)
		}
		phone.Screenshot(filepath.Join(dir, v.name))
	}

	// Without JavaScript: the filter by query parameters, the meta
	// refresh, the actions disabled and the token form hidden.
	noJS := b.NewTab(1280, 900, false, true)
	noJS.Navigate(srv.URL + "/?phase=failing")
	if got := noJS.Str(`[...document.querySelectorAll('#environments tbody tr')].filter(r => r.offsetParent !== null).map(r => r.dataset.environment).join(',')`); got != "dev" {
		t.Errorf("without JavaScript, ?phase=failing shows %s, want dev", got)
	}
	if !noJS.Bool(`document.querySelector('meta[http-equiv="refresh"]') !== null && document.getElementById('token-form').offsetParent === null && [...document.querySelectorAll('button.action')].every(b => b.disabled)`) {
		t.Error("without JavaScript: no meta refresh, or the token form or an enabled action shows")
	}
	noJS.Navigate(srv.URL + "/environments/dev/releases/egov-user")
	if got := noJS.Str(`String(document.querySelectorAll('#revisions tbody tr').length)`); got != "3" {
		t.Errorf("without JavaScript the release view has %s revisions", got)
	}
}

// TestConsole_chromiumProbes: markup in the names, reasons, commits and
// drift values of the daemon's state stays text in the browser, as
// served and as the live update renders it: no dialog, no element, no
// handler.
func TestConsole_chromiumProbes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs headless Chromium: not a unit test (make test runs it)")
	}
	bin := browsertest.Chromium(t)
	now := time.Now()
	h := newHandler(withProbes(quickstart(now), now), testOptions("tok"))
	h.events.poll = 100 * time.Millisecond
	srv := browserServer(t, h)
	dir := browsertest.ArtifactDir(t, "console")
	b := browsertest.Start(t, bin)
	tab := b.NewTab(1280, 900, false, false)
	tab.Navigate(srv.URL + "/")
	tab.Must(`sessionStorage.setItem('digitops.apiToken', 'tok')`, nil) // the actions rendered enabled too
	for _, path := range []string{"/", environmentURL(probeEnv), releaseURL(probeEnv, probeRelease)} {
		tab.Navigate(srv.URL + path)
		tab.WaitFor(`+document.body.dataset.liveUpdates >= 1`, 10*time.Second, "the first status event")
		var injected []string
		tab.Must(`[...document.querySelectorAll('*')].filter(e =>
			['img', 'svg', 'iframe'].includes(e.localName) || (e.localName === 'script' && (!e.src || e.textContent)) ||
			[...e.attributes].some(a => a.name.startsWith('on') || a.value.includes('javascript:'))).map(e => e.outerHTML)`, &injected)
		if len(injected) > 0 {
			t.Errorf("%s: elements from data: %q", path, injected)
		}
		var shown bool
		tab.Must(`[`+strconv.Quote(probeRelease)+`, `+strconv.Quote(probeReason)+`, `+strconv.Quote(probeSubject)+`].every(p => document.body.textContent.includes(p))`, &shown)
		if !shown {
			t.Errorf("%s does not show the probes as text", path)
		}
	}
	tab.Navigate(srv.URL + "/")
	tab.WaitFor(`+document.body.dataset.liveUpdates >= 1`, 10*time.Second, "the first status event")
	tab.Screenshot(filepath.Join(dir, "probes.png"))
	time.Sleep(500 * time.Millisecond) // a handler would have run by now
	if dialogs, exceptions := tab.Problems(); len(dialogs)+len(exceptions) > 0 {
		t.Errorf("dialogs %q, script exceptions %q", dialogs, exceptions)
	}
}

// checkBadges checks the overview's screenshot: the failing and in-sync
// badges' colours are on screen; the drifted colour too (dev's drift
// badge); none of a phase nobody has.
func checkBadges(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []statusapi.Phase{statusapi.PhaseFailing, statusapi.PhaseInSync, statusapi.PhaseDrifted} {
		if n := badgeRows(img, PhaseColor(p)); n < 10 {
			t.Errorf("%s badge colour %s: %d badge rows, want >= 10", p, PhaseColor(p), n)
		}
	}
	if n := badgeRows(img, PhaseColor(statusapi.PhaseOutOfSync)); n == 0 {
		t.Errorf("the rollout's wave badge (out-of-sync colour) is not on screen")
	}
}

// badgeRows counts the rows of img holding a run of at least 20 pixels of
// the colour #rrggbb (within a small tolerance).
func badgeRows(img image.Image, hex string) int {
	v, _ := strconv.ParseUint(strings.TrimPrefix(hex, "#"), 16, 32)
	want := [3]int{int(v >> 16 & 0xff), int(v >> 8 & 0xff), int(v & 0xff)}
	rows := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		run, best := 0, 0
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			got := [3]int{int(r >> 8), int(g >> 8), int(bl >> 8)}
			ok := true
			for i := range got {
				if d := got[i] - want[i]; d < -2 || d > 2 {
					ok = false
				}
			}
			if ok {
				run++
				best = max(best, run)
			} else {
				run = 0
			}
		}
		if best >= 20 {
			rows++
		}
	}
	return rows
}
