package web

import (
	"bytes"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/digitops/digitops/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// assetDigest is the digest in the address of an asset.
var assetDigest = regexp.MustCompile(`\?v=[0-9a-f]{12}`)

// consoleHandler is the handler on b, its clock at now.
func consoleHandler(b Backend, now time.Time) *handler {
	h := newHandler(b, testOptions("tok"))
	h.now = func() time.Time { return now }
	return h
}

// get serves GET path and returns the code and the body.
func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

// TestConsole_golden: each view of the quickstart's state renders as its
// golden file (go test -update rewrites them).
func TestConsole_golden(t *testing.T) {
	h := consoleHandler(quickstart(goldenNow), goldenNow)
	for _, tc := range []struct {
		name, path string
	}{
		{"overview", "/"},
		{"overview-filtered", "/?q=prod&phase=in-sync"},
		{"environment", "/environments/dev"},
		{"environment-by-phase", "/environments/dev?sort=phase&phase=failing"},
		{"release", "/environments/dev/releases/egov-user"},
		{"release-rolled-back", "/environments/prod-a/releases/egov-user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, h, tc.path)
			if code != http.StatusOK {
				t.Fatalf("GET %s: %d\n%s", tc.path, code, body)
			}
			// The assets' digests change with every edit of them: the
			// golden files hold a placeholder.
			body = assetDigest.ReplaceAllString(body, "?v=DIGEST")
			golden.Check(t, filepath.Join("testdata", "console-"+tc.name+".html"), []byte(body), *update)
		})
	}
}

// TestConsole_rows: each view has the rows of its data, found as a
// browser finds them.
func TestConsole_rows(t *testing.T) {
	h := consoleHandler(quickstart(goldenNow), goldenNow)
	for _, tc := range []struct {
		path string
		// rows are the values of attr on the view's rows, in order.
		attr string
		rows []string
		// contains are texts the view shows.
		contains []string
	}{
		{"/", "data-environment", []string{"dev", "prod-a", "prod-b", "qa"}, []string{
			"4f1c0d2", "failure in 3.412s", "3m ago", "replica digitops-0", "2 in-sync", "1 drifted", "1 failing",
			"drift 1", "errors 2", "warnings 1", "listed twice with different tags", "1 release(s) failed: pgr-services",
			"rollout egov", "soaking (18m0s left)", "qa @ 4f1c0d2", "prod-b @ 0123456", "dev @ head", "gate: sum(rate(",
			"egov-user in prod-a: suspended, not synced until resumed.",
			"read-only: enter the API token",
		}},
		{"/environments/dev", "data-release", []string{"egov-config", "egov-mdms-service", "egov-user", "pgr-services"}, []string{
			"Environment dev", "main@sha1:" + commitA, "changes: 1 upgrade, 1 error", "Last success",
			"values changed", "environments/dev.yaml: egov-user.replicas 2 → 3", "-   replicas: 2",
			"webhook", "1 upgrade, 1 error", "egov-user upgrade succeeded r3, pgr-services error failed", "1 correct-drift",
			"egov-config install succeeded r1, egov-mdms-service install succeeded r1, egov-user install succeeded r1, +1 more",
			"1 release(s) failed: pgr-services",
		}},
		{"/environments/dev?sort=phase", "data-release", []string{"pgr-services", "egov-user", "egov-config", "egov-mdms-service"}, nil},
		{"/environments/dev/releases/egov-user", "data-revision", []string{"3", "2", "1"}, []string{
			"Release egov-user", "egov-user-0.1.0", "egovio/egov-user:v2.9.2-4a60f20", "egov-mdms-service", "pgr-services",
			"/spec/replicas", "kubectl-edit", "Upgrade complete", "digitops-1", "ConfigMap/egov/egov-user-config",
			"Service/egov/egov-user-legacy", "Roll back…", "webhook",
		}},
		{"/environments/prod-a/releases/egov-user", "data-revision", []string{"3", "2"}, []string{
			"emergency rollback to Helm revision 2 (20m ago); suspended, not synced until resumed.", "Rollback to 2",
		}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			code, body := get(t, h, tc.path)
			if code != http.StatusOK {
				t.Fatalf("%d\n%s", code, body)
			}
			doc, err := html.Parse(strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			var rows []string
			for _, n := range findAll(doc, func(n *html.Node) bool { return n.Data == "tr" && attr(n, tc.attr) != "" }) {
				rows = append(rows, attr(n, tc.attr))
			}
			if strings.Join(rows, ",") != strings.Join(tc.rows, ",") {
				t.Errorf("rows %v, want %v", rows, tc.rows)
			}
			all := text(doc)
			for _, want := range tc.contains {
				if !strings.Contains(all, want) {
					t.Errorf("the view does not say %q", want)
				}
			}
		})
	}
}

// TestConsole_filter: ?q= and ?phase= hide the rows that do not match
// (sent hidden, for the script), and the view says how many it shows.
func TestConsole_filter(t *testing.T) {
	h := consoleHandler(quickstart(goldenNow), goldenNow)
	for _, tc := range []struct {
		query string
		// shown are the rows left visible.
		shown []string
		count string
	}{
		{"", []string{"dev", "prod-a", "prod-b", "qa"}, "4 of 4 environments shown"},
		{"q=PROD", []string{"prod-a", "prod-b"}, "2 of 4 environments shown"},
		{"phase=in-sync", []string{"prod-a", "qa"}, "2 of 4 environments shown"},
		{"q=prod&phase=in-sync", []string{"prod-a"}, "1 of 4 environments shown"},
		{"phase=nonsense", []string{"dev", "prod-a", "prod-b", "qa"}, "4 of 4 environments shown"},
		{"q=nothing", nil, "0 of 4 environments shown"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			_, body := get(t, h, "/?"+tc.query)
			doc, _ := html.Parse(strings.NewReader(body))
			var shown []string
			for _, n := range findAll(doc, func(n *html.Node) bool { return n.Data == "tr" && attr(n, "data-environment") != "" }) {
				if !hasAttr(n, "hidden") {
					shown = append(shown, attr(n, "data-environment"))
				}
			}
			if strings.Join(shown, ",") != strings.Join(tc.shown, ",") {
				t.Errorf("shown %v, want %v", shown, tc.shown)
			}
			if got := text(find(doc, func(n *html.Node) bool { return attr(n, "id") == "filter-count" })); got != tc.count {
				t.Errorf("count %q, want %q", got, tc.count)
			}
		})
	}
	// The releases of an environment filter by name or namespace.
	_, body := get(t, h, "/environments/dev?q=egov-&phase=in-sync")
	doc, _ := html.Parse(strings.NewReader(body))
	var shown []string
	for _, n := range findAll(doc, func(n *html.Node) bool {
		return n.Data == "tr" && attr(n, "data-release") != "" && !hasAttr(n, "hidden")
	}) {
		shown = append(shown, attr(n, "data-release"))
	}
	if strings.Join(shown, ",") != "egov-config,egov-mdms-service" {
		t.Errorf("releases shown %v, want egov-config and egov-mdms-service", shown)
	}
}

// TestConsole_fallbacks: when the detail of an environment or a release
// cannot be had, its view shows the status and says what is missing; an
// unknown environment or release is a 404 page.
func TestConsole_fallbacks(t *testing.T) {
	b := quickstart(goldenNow)
	b.detailErr = errors.New("not available yet")
	b.releaseErr = errors.New("not available yet")
	h := consoleHandler(b, goldenNow)

	code, body := get(t, h, "/environments/dev")
	if code != http.StatusOK || !strings.Contains(body, "The pending plan is unavailable: not available yet.") ||
		!strings.Contains(body, `data-release="pgr-services"`) || !strings.Contains(body, "1 release(s) failed: pgr-services") {
		t.Errorf("environment without its detail: %d\n%s", code, body)
	}
	code, body = get(t, h, "/environments/dev/releases/egov-user")
	if code != http.StatusOK || !strings.Contains(body, "are unavailable: not available yet.") ||
		!strings.Contains(body, "kubectl-edit") || !strings.Contains(body, "No earlier revision to roll back to.") {
		t.Errorf("release without its detail: %d\n%s", code, body)
	}
	for _, path := range []string{"/environments/nope", "/environments/dev/releases/nope", "/environments/nope/releases/egov-user"} {
		if code, body := get(t, h, path); code != http.StatusNotFound || !strings.Contains(body, "There is no ") {
			t.Errorf("GET %s: %d, want the 404 page\n%s", path, code, body)
		}
	}
}

// TestConsole_headers: the views forbid other scripts and styles, the
// assets are served with their type, a view links its versioned assets.
func TestConsole_headers(t *testing.T) {
	h := consoleHandler(quickstart(goldenNow), goldenNow)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q", csp)
	}
	for name, ct := range map[string]string{"console.js": "text/javascript", "console.css": "text/css"} {
		path := assets[name].path
		if !strings.Contains(rec.Body.String(), `"`+path+`"`) {
			t.Errorf("the view does not link %s", path)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), ct) || rec.Body.Len() == 0 {
			t.Errorf("GET %s: %d %q", path, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
	if !strings.Contains(assets["console.css"].String(), ".phase-drifted { background: #f59e0b;") {
		t.Error("the stylesheet lacks the phase colours")
	}
	if strings.Contains(assets["console.js"].String(), "innerHTML") || strings.Contains(assets["console.js"].String(), "insertAdjacentHTML") {
		t.Error("the script parses HTML: it must insert text only")
	}
}

func (a asset) String() string { return string(a.body) }

// TestConsole_probes: markup in every string a repository or a cluster
// sets is shown as text in every view: no element, attribute or script
// comes from data.
func TestConsole_probes(t *testing.T) {
	h := consoleHandler(withProbes(quickstart(goldenNow), goldenNow), goldenNow)
	for _, path := range []string{"/", environmentURL(probeEnv), environmentURL(probeEnv) + "?q=" + url.QueryEscape(probeRelease), releaseURL(probeEnv, probeRelease)} {
		t.Run(path, func(t *testing.T) {
			code, body := get(t, h, path)
			if code != http.StatusOK {
				t.Fatalf("%d\n%s", code, body)
			}
			doc, err := html.Parse(strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range findAll(doc, func(n *html.Node) bool {
				switch n.Data {
				case "img", "svg", "iframe":
					return true
				case "script":
					return attr(n, "src") == "" || n.FirstChild != nil
				}
				for _, a := range n.Attr {
					if strings.HasPrefix(a.Key, "on") || strings.Contains(a.Val, "javascript:") {
						return true
					}
				}
				return false
			}) {
				var b bytes.Buffer
				_ = html.Render(&b, n)
				t.Errorf("an element from data: %s", b.String())
			}
			all := text(doc)
			for _, probe := range []string{probeRelease, probeReason, probeSubject} {
				if !strings.Contains(all, probe) {
					t.Errorf("the view does not show %q as text", probe)
				}
			}
		})
	}
}

// findAll returns the nodes under n that match, in document order.
func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

func find(n *html.Node, match func(*html.Node) bool) *html.Node {
	if all := findAll(n, match); len(all) > 0 {
		return all[0]
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

// text is the text of n, as a browser's textContent, trimmed.
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
