package chartrepo

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/registry"

	"github.com/digitops/digitops/source/manifest"
)

// testOCI is an in-memory OCI registry (go-containerregistry) served over
// plain HTTP by httptest.
type testOCI struct {
	srv *httptest.Server
	// blobGets counts GET requests for blobs (the chart and config layers).
	blobGets atomic.Int32
	// client pushes charts.
	client *registry.Client
}

// newTestOCI starts a registry and pushes chart demo in each version under
// charts/demo. HELM_REGISTRY_CONFIG points at an empty file so that no
// credentials of the machine are used.
func newTestOCI(t *testing.T, versions ...string) *testOCI {
	t.Helper()
	creds := filepath.Join(t.TempDir(), "config.json")
	t.Setenv("HELM_REGISTRY_CONFIG", creds)
	to := &testOCI{}
	h := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	to.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			to.blobGets.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(to.srv.Close)
	cl, err := registry.NewClient(registry.ClientOptPlainHTTP(), registry.ClientOptCredentialsFile(creds), registry.ClientOptWriter(testWriter{t}))
	if err != nil {
		t.Fatal(err)
	}
	to.client = cl
	for _, v := range versions {
		to.push(t, v, "first")
	}
	return to
}

// push packages demo at version with description and pushes it as
// charts/demo:version, replacing what the tag pointed at.
func (to *testOCI) push(t *testing.T, version, description string) {
	t.Helper()
	ch := &chart.Chart{
		Metadata:  &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "demo", Version: version, Type: "application", Description: description},
		Templates: []*chart.File{{Name: "templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\n")}},
		Values:    map[string]any{"replicas": 1},
	}
	path, err := chartutil.Save(ch, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := to.client.Push(data, to.host()+"/charts/demo:"+strings.ReplaceAll(version, "+", "_")); err != nil {
		t.Fatalf("push demo %s: %v", version, err)
	}
}

// host is the registry's host:port.
func (to *testOCI) host() string { return strings.TrimPrefix(to.srv.URL, "http://") }

// url is the oci:// repository URL of the pushed charts.
func (to *testOCI) url() string { return "oci://" + to.host() + "/charts" }

// testWriter sends helm's registry client output to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// loadVersion loads the chart at p and returns its name and version.
func loadVersion(t *testing.T, p string) (string, string) {
	t.Helper()
	ch, err := loader.Load(p)
	if err != nil {
		t.Fatalf("load %s: %v", p, err)
	}
	return ch.Metadata.Name, ch.Metadata.Version
}

func TestPull_ociVersions(t *testing.T) {
	to := newTestOCI(t, "0.1.0", "0.2.0", "0.2.1", "1.0.0", "1.1.0-rc.1")
	tests := []struct {
		// version is the ChartRef version: exact, a constraint or empty.
		version string
		// want is the version that must be pulled.
		want string
	}{
		{version: "0.2.0", want: "0.2.0"},
		{version: "1.1.0-rc.1", want: "1.1.0-rc.1"},
		{version: "~0.2", want: "0.2.1"},
		{version: "^0.1.0", want: "0.1.0"},
		{version: "<1", want: "0.2.1"},
		{version: "", want: "1.0.0"},
		{version: ">=1.1.0-0", want: "1.1.0-rc.1"},
	}
	c := &Cache{Dir: t.TempDir(), PlainHTTP: true}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			p, err := c.Pull(context.Background(), manifest.ChartRef{RepoURL: to.url(), Name: "demo", Version: tt.version})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(p, filepath.Join(c.Dir, "sha256")+string(filepath.Separator)) {
				t.Errorf("path %s is not in the cache", p)
			}
			if name, version := loadVersion(t, p); name != "demo" || version != tt.want {
				t.Errorf("pulled %s %s, want demo %s", name, version, tt.want)
			}
		})
	}
}

// A second pull of the same tag resolves the manifest and downloads no
// blob, also from a new Cache on the same directory; a tag pushed again
// with other content is pulled again.
func TestPull_ociCacheHit(t *testing.T) {
	to := newTestOCI(t, "0.1.0")
	dir := t.TempDir()
	ref := manifest.ChartRef{RepoURL: to.url(), Name: "demo", Version: "0.1.0"}
	pull := func(c *Cache) string {
		t.Helper()
		p, err := c.Pull(context.Background(), ref)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := &Cache{Dir: dir, PlainHTTP: true}
	p1 := pull(c)
	first := to.blobGets.Load()
	if first == 0 {
		t.Fatal("the first pull downloaded no blob")
	}
	p2 := pull(c)
	p3 := pull(&Cache{Dir: dir, PlainHTTP: true})
	if p1 != p2 || p1 != p3 {
		t.Errorf("paths %s %s %s, want one", p1, p2, p3)
	}
	if got := to.blobGets.Load(); got != first {
		t.Errorf("blob GETs %d after the cached pulls, want %d", got, first)
	}

	to.push(t, "0.1.0", "second")
	p4 := pull(c)
	if p4 == p1 {
		t.Fatalf("the re-pushed tag still gives %s", p1)
	}
	if to.blobGets.Load() == first {
		t.Error("the re-pushed tag was not downloaded")
	}
	ch, err := loader.Load(p4)
	if err != nil {
		t.Fatal(err)
	}
	if got := ch.Metadata.Description; got != "second" {
		t.Errorf("description %q, want the re-pushed chart's %q", got, "second")
	}
}

func TestPull_ociErrors(t *testing.T) {
	to := newTestOCI(t, "0.1.0")
	tests := []struct {
		name string
		// ref is what to pull.
		ref manifest.ChartRef
		// want are substrings of the error.
		want []string
	}{
		{
			name: "unknown chart",
			ref:  manifest.ChartRef{RepoURL: to.url(), Name: "nope", Version: "0.1.0"},
			want: []string{"chart nope 0.1.0", to.url() + "/nope:0.1.0", "unable to resolve"},
		},
		{
			name: "unknown tag",
			ref:  manifest.ChartRef{RepoURL: to.url(), Name: "demo", Version: "9.9.9"},
			want: []string{"chart demo 9.9.9", to.url() + "/demo:9.9.9", "not found"},
		},
		{
			name: "unknown chart by constraint",
			ref:  manifest.ChartRef{RepoURL: to.url(), Name: "nope", Version: "^1"},
			want: []string{"chart nope", to.url() + "/nope"},
		},
		{
			name: "no matching version",
			ref:  manifest.ChartRef{RepoURL: to.url(), Name: "demo", Version: "^9"},
			want: []string{"chart demo in " + to.url() + "/demo", `no version matches "^9"`},
		},
		{
			name: "credentials are not shown",
			ref:  manifest.ChartRef{RepoURL: "oci://user:hunter2@" + to.host() + "/charts", Name: "demo", Version: "0.1.0"},
			want: []string{"oci://" + to.host() + "/charts", "credentials in an oci:// URL"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Cache{Dir: t.TempDir(), PlainHTTP: true}
			_, err := c.Pull(context.Background(), tt.ref)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q, want one containing %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("credentials in %v", err)
			}
		})
	}
}
