package chartrepo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/repo"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/digitops/digitops/source/manifest"
)

// testRepo is an https-style chart repository served by httptest.
type testRepo struct {
	srv *httptest.Server
	// downloads counts chart (not index) requests.
	downloads atomic.Int32
}

// newTestRepo packages chart demo in each version with helm's chartutil
// and serves them with an index.yaml. corrupt lists versions whose index
// digest is wrong.
func newTestRepo(t *testing.T, versions []string, corrupt map[string]bool) *testRepo {
	t.Helper()
	dir := t.TempDir()
	idx := repo.NewIndexFile()
	tr := &testRepo{}
	for _, v := range versions {
		ch := &chart.Chart{
			Metadata:  &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "demo", Version: v, Type: "application"},
			Templates: []*chart.File{{Name: "templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n")}},
			Values:    map[string]any{"replicas": 1},
		}
		path, err := chartutil.Save(ch, dir)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		digest := hex.EncodeToString(sum[:])
		if corrupt[v] {
			digest = strings.Repeat("0", 64)
		}
		if err := idx.MustAdd(ch.Metadata, filepath.Base(path), "", digest); err != nil {
			t.Fatal(err)
		}
	}
	index, err := sigsyaml.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/charts/index.yaml", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(index) })
	mux.HandleFunc("/charts/", func(w http.ResponseWriter, r *http.Request) {
		tr.downloads.Add(1)
		http.ServeFile(w, r, filepath.Join(dir, filepath.Base(r.URL.Path)))
	})
	tr.srv = httptest.NewServer(mux)
	t.Cleanup(tr.srv.Close)
	return tr
}

func (tr *testRepo) url() string { return tr.srv.URL + "/charts" }

func TestPull_httpVersions(t *testing.T) {
	tr := newTestRepo(t, []string{"0.1.0", "0.2.0", "0.2.1", "1.0.0", "1.1.0-rc.1"}, nil)
	tests := []struct {
		// version is the ChartRef version: exact, a constraint or empty.
		version string
		// want is the version that must be pulled.
		want string
	}{
		{version: "", want: "1.0.0"},
		{version: "0.2.0", want: "0.2.0"},
		{version: "~0.2", want: "0.2.1"},
		{version: "^0.1.0", want: "0.1.0"},
		{version: ">=1.1.0-0", want: "1.1.0-rc.1"},
	}
	c := &Cache{Dir: t.TempDir()}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			p, err := c.Pull(context.Background(), manifest.ChartRef{RepoURL: tr.url(), Name: "demo", Version: tt.version})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(p, filepath.Join(c.Dir, "sha256")+string(filepath.Separator)) {
				t.Errorf("path %s is not in the cache", p)
			}
			ch, err := loader.Load(p)
			if err != nil {
				t.Fatal(err)
			}
			if ch.Metadata.Version != tt.want {
				t.Errorf("pulled %s, want %s", ch.Metadata.Version, tt.want)
			}
		})
	}
}

// A second pull of a cached digest downloads nothing.
func TestPull_cacheHit(t *testing.T) {
	tr := newTestRepo(t, []string{"0.1.0"}, nil)
	c := &Cache{Dir: t.TempDir()}
	ref := manifest.ChartRef{RepoURL: tr.url(), Name: "demo", Version: "0.1.0"}
	p1, err := c.Pull(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := c.Pull(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if p1 != p2 || tr.downloads.Load() != 1 {
		t.Errorf("paths %s %s, downloads %d; want one download", p1, p2, tr.downloads.Load())
	}
}

func TestPull_errors(t *testing.T) {
	tr := newTestRepo(t, []string{"0.1.0"}, map[string]bool{"0.1.0": true})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	tests := []struct {
		name string
		// ref is what to pull.
		ref manifest.ChartRef
		// timeout bounds the request (0: the default).
		timeout time.Duration
		// want is a substring of the error.
		want string
	}{
		{name: "digest mismatch", ref: manifest.ChartRef{RepoURL: tr.url(), Name: "demo", Version: "0.1.0"}, want: "digest mismatch: the index says sha256:0000"},
		{name: "unknown chart", ref: manifest.ChartRef{RepoURL: tr.url(), Name: "nope"}, want: `chart nope "" in ` + tr.url() + `: no chart name found`},
		{name: "no matching version", ref: manifest.ChartRef{RepoURL: tr.url(), Name: "demo", Version: "^9"}, want: `no chart version found for demo-^9`},
		{name: "no index", ref: manifest.ChartRef{RepoURL: tr.srv.URL + "/missing", Name: "demo"}, want: "404 Not Found"},
		{name: "timeout", ref: manifest.ChartRef{RepoURL: slow.URL, Name: "demo"}, timeout: 200 * time.Millisecond, want: "context deadline exceeded"},
		{name: "credentials are not shown", ref: manifest.ChartRef{RepoURL: "https://user:hunter2@127.0.0.1:1/charts", Name: "demo"}, timeout: time.Second, want: "https://127.0.0.1:1/charts"},
		{name: "bad scheme", ref: manifest.ChartRef{RepoURL: "ftp://x", Name: "demo"}, want: "neither https:// nor oci://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Cache{Dir: t.TempDir(), Timeout: tt.timeout}
			_, err := c.Pull(context.Background(), tt.ref)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("credentials in %v", err)
			}
		})
	}
}

func TestPull_localChartIsItsPath(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	p, err := c.Pull(context.Background(), manifest.ChartRef{Path: "/repo/charts/app"})
	if err != nil || p != "/repo/charts/app" {
		t.Fatalf("Pull = %q, %v", p, err)
	}
}

func TestHighest(t *testing.T) {
	tags := []string{"0.1.0", "0.2.0", "1.0.0", "2.0.0-rc.1"}
	for c, want := range map[string]string{"": "1.0.0", "~0.1": "0.1.0", "<1": "0.2.0", ">=2.0.0-0": "2.0.0-rc.1"} {
		if got, err := highest(tags, c); err != nil || got != want {
			t.Errorf("highest(%q) = %q, %v; want %s", c, got, err, want)
		}
	}
	if _, err := highest(tags, "^5"); err == nil {
		t.Error("want an error for ^5")
	}
}

// indexServer serves index (an index.yaml) at /charts/index.yaml and
// counts every request.
func indexServer(t *testing.T, index string) (string, *atomic.Int32) {
	t.Helper()
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.URL.Path != "/charts/index.yaml" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(index))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/charts", &requests
}

// TestPull_untrustedIndex: an index.yaml is the chart repository's, which
// digitops does not trust: its digest names no file outside the cache, and
// its nesting is bounded before it is parsed.
func TestPull_untrustedIndex(t *testing.T) {
	entry := func(digest string) string {
		return "apiVersion: v1\nentries:\n  demo:\n    - name: demo\n      version: 0.1.0\n      apiVersion: v2\n      urls: [demo-0.1.0.tgz]\n      digest: " + digest + "\n"
	}
	tests := []struct {
		name  string // case
		index string // the index.yaml served
		want  string // a part of the error
	}{
		{"digest that climbs out of the cache", entry(`"sha256:../../outside"`), `the index's digest "sha256:../../outside" is not sha256:<64 hex digits>`},
		{"digest with a slash", entry(strings.Repeat("a", 32) + "/" + strings.Repeat("a", 31)), "is not sha256:<64 hex digits>"},
		{"digest too short", entry("sha256:abc"), `digest "sha256:abc" is not`},
		{"digest of another algorithm", entry("sha512:" + strings.Repeat("a", 64)), "is not sha256:"},
		{"index nested too deep", "apiVersion: v1\nentries: " + strings.Repeat("[", 1001) + "\n", "index of http://127.0.0.1:"},
		{"index nested too deep names the line", "apiVersion: v1\nentries: " + strings.Repeat("{a: ", 1001) + "\n", "line 2: YAML nested deeper than 1000 levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			// A chart outside the cache that a climbing digest would name.
			if err := os.WriteFile(filepath.Join(base, "outside.tgz"), []byte("not a chart"), 0o644); err != nil {
				t.Fatal(err)
			}
			url, _ := indexServer(t, tt.index)
			c := &Cache{Dir: filepath.Join(base, "cache")}
			p, err := c.Pull(context.Background(), manifest.ChartRef{RepoURL: url, Name: "demo", Version: "0.1.0"})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Pull = %q, %v; want an error containing %q", p, err, tt.want)
			}
		})
	}
}

// TestPull_offline: an offline cache makes no request; it answers with
// what an online pull of the same reference cached, else names the chart.
func TestPull_offline(t *testing.T) {
	tr := newTestRepo(t, []string{"0.1.0", "0.2.0"}, nil)
	var requests atomic.Int32
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Redirect(w, r, tr.srv.URL+r.URL.Path, http.StatusFound)
	}))
	t.Cleanup(counting.Close)
	dir := t.TempDir()
	ref := manifest.ChartRef{RepoURL: counting.URL + "/charts", Name: "demo", Version: "~0.1"}
	offline := &Cache{Dir: dir, Offline: true}
	tests := []struct {
		name   string            // case
		online bool              // pull online first
		ref    manifest.ChartRef // what the offline cache pulls
		want   string            // a part of the error, "" for none
	}{
		{name: "not cached", ref: ref, want: "chart demo ~0.1 of " + counting.URL + "/charts is not in the chart cache"},
		{name: "OCI not cached", ref: manifest.ChartRef{RepoURL: "oci://127.0.0.1:1/charts", Name: "redis", Version: "1.0.0"}, want: "chart redis 1.0.0 of oci://127.0.0.1:1/charts is not in the chart cache"},
		{name: "cached by an online pull", online: true, ref: ref},
		{name: "another version is not cached", ref: manifest.ChartRef{RepoURL: ref.RepoURL, Name: "demo", Version: "0.2.0"}, want: "chart demo 0.2.0 of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var online string
			if tt.online {
				p, err := (&Cache{Dir: dir}).Pull(context.Background(), tt.ref)
				if err != nil {
					t.Fatal(err)
				}
				online = p
			}
			before := requests.Load()
			p, err := offline.Pull(context.Background(), tt.ref)
			if n := requests.Load() - before; n != 0 {
				t.Errorf("offline Pull made %d requests", n)
			}
			var oe *OfflineError
			switch {
			case tt.want == "" && (err != nil || p != online):
				t.Fatalf("offline Pull = %q, %v; want %q", p, err, online)
			case tt.want != "" && (!errors.As(err, &oe) || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("offline Pull = %q, %v; want an OfflineError containing %q", p, err, tt.want)
			}
		})
	}
}
