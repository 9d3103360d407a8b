package web

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/digitops/digitops/internal/statusapi"
)

// pageStatus is a status with one release of each interesting phase.
func pageStatus() statusapi.Status {
	now := time.Now().Add(-time.Minute)
	return statusapi.Status{
		Leader: true,
		Ready:  true,
		Environments: []statusapi.Environment{
			{
				Name: "dev", Source: "https://git.example.org/envs", Phase: statusapi.PhaseDrifted,
				Revision:    "main@sha1:0123456789abcdef0123456789abcdef01234567",
				LastSync:    &statusapi.Sync{Started: now, Duration: "1.2s", Result: "success"},
				LastSuccess: &now,
				Warnings:    []statusapi.Warning{{File: "release.yaml", Line: 57, Release: "egov-user", Msg: "listed twice with different tags"}},
				Releases: []statusapi.Release{
					{Name: "egov-config", Namespace: "egov", Phase: statusapi.PhaseInSync, Action: "none", Revision: 1},
					{Name: "egov-user", Namespace: "egov", Phase: statusapi.PhaseDrifted, Action: "correct-drift", Revision: 3,
						Drift: []statusapi.DriftItem{{Object: "Deployment/egov/egov-user", Path: "/spec/replicas", Kind: "changed", Before: "2", After: "5", Manager: "kubectl-edit"}}},
				},
			},
			{
				Name: "prod", Source: "https://git.example.org/envs", Phase: statusapi.PhaseFailing,
				LastError: "unable to load environment \"prod\": digitops.yaml:3: invalid YAML",
				Releases:  []statusapi.Release{},
			},
		},
		Rollouts: []statusapi.Rollout{{
			Name: "egov", Revision: "main@sha1:0123456789abcdef0123456789abcdef01234567", Wave: 1, SoakLeft: "4m10s",
			Summary: "0123456 at wave 1 of 2, soaking (4m10s left)",
			Waves: []statusapi.RolloutWave{
				{Soak: "10m0s", Gate: "sum(rate(errors[5m])) ≤ 0.01", Environments: []statusapi.RolloutEnvironment{{Name: "dev", Phase: statusapi.PhaseDrifted}}},
				{Environments: []statusapi.RolloutEnvironment{{Name: "prod", Commit: "fedcba9876543210fedcba9876543210fedcba98", Phase: statusapi.PhaseFailing}}},
			},
		}},
	}
}

func TestPage_template(t *testing.T) {
	rec := httptest.NewRecorder()
	renderPage(rec, pageStatus())
	body := rec.Body.String()
	for _, want := range []string{
		`<meta http-equiv="refresh" content="10">`,
		`name="viewport"`,
		`data-release="egov-user" data-phase="drifted"`,
		`/spec/replicas changed: 2 → 5 (by kubectl-edit)`,
		`invalid YAML`,
		`warning: release.yaml:57: release &#34;egov-user&#34;: listed twice with different tags`,
		`.phase-drifted { background: #f59e0b; }`,
		`data-rollout="egov"`,
		`soak left 4m10s`,
		`<tr data-wave="2"><td><b>wave 2</b>`,
		`gate: sum(rate(errors[5m])) ≤ 0.01`,
		`data-rollout-environment="prod">prod @ fedcba9</span>`,
		`data-rollout-environment="dev">dev @ head</span>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// chromium returns the Chromium binary, skipping the test when it is
// missing outside CI (in CI, CI=true, a missing Chromium fails).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install -y chromium)")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium)")
	return ""
}

// runChromium runs headless Chromium on url with extra arguments.
func runChromium(t *testing.T, bin, url string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--force-color-profile=srgb",
		"--hide-scrollbars", "--user-data-dir=" + t.TempDir(), "--window-size=412,900"}
	cmd := exec.CommandContext(ctx, bin, append(append(base, args...), url)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Dir = t.TempDir()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

func TestPage_chromium(t *testing.T) {
	if testing.Short() {
		t.Skip("runs headless Chromium: not a unit test (make test runs it)")
	}
	bin := chromium(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { renderPage(w, pageStatus()) }))
	defer srv.Close()

	// The DOM: the drifted release is marked drifted, with its drift item.
	dom := runChromium(t, bin, srv.URL, "--dump-dom")
	doc, err := html.Parse(bytes.NewReader(dom))
	if err != nil {
		t.Fatal(err)
	}
	row := find(doc, func(n *html.Node) bool { return attr(n, "data-release") == "egov-user" })
	if row == nil {
		t.Fatalf("no row for egov-user in the DOM:\n%s", dom)
	}
	if got := attr(row, "data-phase"); got != "drifted" {
		t.Errorf("egov-user row phase = %q, want drifted", got)
	}
	badge := find(row, func(n *html.Node) bool { return strings.Contains(attr(n, "class"), "badge") })
	if badge == nil || text(badge) != "drifted" {
		t.Errorf("egov-user badge = %q, want drifted", text(badge))
	}
	if !strings.Contains(text(row), "/spec/replicas") {
		t.Errorf("egov-user row lacks its drift item: %q", text(row))
	}
	prod := find(doc, func(n *html.Node) bool { return attr(n, "data-environment") == "prod" })
	if prod == nil || attr(prod, "data-phase") != "failing" || !strings.Contains(text(prod), "invalid YAML") {
		t.Errorf("prod is not shown failing with its error")
	}

	// The screenshot: the drifted badge colour is on screen, and so is the
	// failing one; a colour not used by this status is not.
	dir := t.TempDir()
	if keep := os.Getenv("DIGITOPS_SCREENSHOT_DIR"); keep != "" {
		dir = keep // keep the screenshot (CI artifact)
	}
	shot := filepath.Join(dir, "status-page.png")
	runChromium(t, bin, srv.URL, "--screenshot="+shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// A badge is a block of solid colour: rows with a run of >= 20 pixels
	// of it (anti-aliased text never makes such runs).
	if n := badgeRows(img, PhaseColor(statusapi.PhaseDrifted)); n < 10 {
		t.Errorf("drifted badge colour %s: %d badge rows, want >= 10", PhaseColor(statusapi.PhaseDrifted), n)
	}
	if n := badgeRows(img, PhaseColor(statusapi.PhaseFailing)); n < 10 {
		t.Errorf("failing badge colour: %d badge rows, want >= 10", n)
	}
	if n := badgeRows(img, PhaseColor(statusapi.PhaseSuspended)); n > 0 {
		t.Errorf("suspended colour in %d badge rows though nothing is suspended", n)
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

func find(n *html.Node, match func(*html.Node) bool) *html.Node {
	if n == nil {
		return nil
	}
	if match(n) {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := find(c, match); f != nil {
			return f
		}
	}
	return nil
}

func attr(n *html.Node, key string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}
