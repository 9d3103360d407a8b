package chartrepo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
