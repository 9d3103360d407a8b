package chartrepo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/repo"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/digitops/digitops/internal/yamldepth"
	"github.com/digitops/digitops/source/manifest"
)

// Defaults of a Cache.
const (
	DefaultTimeout  = 2 * time.Minute
	DefaultIndexTTL = 5 * time.Minute
	// maxIndexSize and maxChartSize bound downloads.
	maxIndexSize = 64 << 20
	maxChartSize = 32 << 20
)

// Cache pulls remote charts into Dir. The zero value (with Dir set) is
// ready to use; a Cache is safe for concurrent use.
type Cache struct {
	// Dir is the cache directory; charts are stored as
	// Dir/sha256/<hex>.tgz, and Dir/oci/sha256/<manifest hex> names the
	// chart pulled for an OCI manifest.
	Dir string
	// HTTPClient fetches index.yaml files and charts; nil means a client
	// with Timeout.
	HTTPClient *http.Client
	// Timeout bounds one request, DefaultTimeout when zero.
	Timeout time.Duration
	// IndexTTL is how long a fetched index.yaml is reused, DefaultIndexTTL
	// when zero.
	IndexTTL time.Duration
	// PlainHTTP talks to OCI registries over http (tests, local registries).
	PlainHTTP bool
	// Offline makes no request at all: Pull returns the chart an earlier
	// Pull of the same repository, name and version cached, or an
	// *OfflineError (`plan --offline`: no network but the Git source).
	Offline bool

	mu      sync.Mutex
	indexes map[string]cachedIndex
}

type cachedIndex struct {
	index   *repo.IndexFile
	fetched time.Time
}

// Pull returns the path of the chart ref names: a local chart's own
// directory, or a .tgz in the cache that helm's loader.Load reads.
func (c *Cache) Pull(ctx context.Context, ref manifest.ChartRef) (string, error) {
	var pull func(context.Context, manifest.ChartRef) (string, error)
	switch {
	case ref.Path != "":
		return ref.Path, nil
	case ref.Name == "" || ref.RepoURL == "":
		return "", errors.New("chart reference without a repository or name")
	case strings.HasPrefix(ref.RepoURL, "oci://"):
		pull = c.pullOCI
	case strings.HasPrefix(ref.RepoURL, "https://") || strings.HasPrefix(ref.RepoURL, "http://"):
		pull = c.pullHTTP
	default:
		return "", fmt.Errorf("chart %s: repository %q is neither https:// nor oci://", ref.Name, Sanitize(ref.RepoURL))
	}
	if c.Offline {
		if p, ok := c.refCached(ref); ok {
			return p, nil
		}
		return "", &OfflineError{Chart: ref.Name, Version: ref.Version, Repo: Sanitize(ref.RepoURL)}
	}
	p, err := pull(ctx, ref)
	if err != nil {
		return "", err
	}
	if err := c.refRemember(ref, filepath.Base(p)); err != nil {
		return "", fmt.Errorf("chart %s: unable to record it in the cache: %w", ref.Name, err)
	}
	return p, nil
}

// OfflineError is a chart an offline Cache does not hold.
type OfflineError struct {
	// Chart, Version and Repo name the chart as the release does (Repo
	// without credentials).
	Chart, Version, Repo string
}

func (e *OfflineError) Error() string {
	v := e.Version
	if v == "" {
		v = "(latest)"
	}
	return fmt.Sprintf("chart %s %s of %s is not in the chart cache, and offline no chart is fetched: pull it once online (plan without --offline) or vendor it in the repository", e.Chart, v, e.Repo)
}

// checkDigest returns the hex of an index.yaml digest: empty, 64 hex
// digits, or sha256: and 64 hex digits. Anything else is refused: the
// digest names a file of the cache.
func checkDigest(d string) (string, error) {
	h := strings.ToLower(strings.TrimPrefix(d, "sha256:"))
	if d == "" {
		return "", nil
	}
	if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		return "", fmt.Errorf("digest %q is not sha256:<64 hex digits>", truncate(d, 80))
	}
	return h, nil
}

// truncate cuts s to n bytes, for untrusted strings in errors.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (c *Cache) pullHTTP(ctx context.Context, ref manifest.ChartRef) (string, error) {
	idx, err := c.index(ctx, ref.RepoURL)
	if err != nil {
		return "", err
	}
	cv, err := idx.Get(ref.Name, ref.Version)
	if err != nil {
		return "", fmt.Errorf("chart %s %q in %s: %w", ref.Name, ref.Version, Sanitize(ref.RepoURL), err)
	}
	if len(cv.URLs) == 0 {
		return "", fmt.Errorf("chart %s %s in %s: the index lists no URL", ref.Name, cv.Version, Sanitize(ref.RepoURL))
	}
	digest, err := checkDigest(cv.Digest)
	if err != nil {
		return "", fmt.Errorf("chart %s %s in %s: the index's %w", ref.Name, cv.Version, Sanitize(ref.RepoURL), err)
	}
	if digest != "" {
		if p := c.path(digest); exists(p) {
			return p, nil
		}
	}
	u, err := repo.ResolveReferenceURL(ref.RepoURL, cv.URLs[0])
	if err != nil {
		return "", fmt.Errorf("chart %s %s: %w", ref.Name, cv.Version, err)
	}
	data, err := c.get(ctx, u, maxChartSize)
	if err != nil {
		return "", fmt.Errorf("chart %s %s: %w", ref.Name, cv.Version, err)
	}
	return c.store(data, digest, fmt.Sprintf("chart %s %s from %s", ref.Name, cv.Version, Sanitize(u)))
}

// index returns the repository's index.yaml, fetched at most once per
// IndexTTL.
func (c *Cache) index(ctx context.Context, repoURL string) (*repo.IndexFile, error) {
	ttl := c.IndexTTL
	if ttl == 0 {
		ttl = DefaultIndexTTL
	}
	key := strings.TrimSuffix(repoURL, "/")
	c.mu.Lock()
	if ci, ok := c.indexes[key]; ok && time.Since(ci.fetched) < ttl {
		c.mu.Unlock()
		return ci.index, nil
	}
	c.mu.Unlock()
	data, err := c.get(ctx, key+"/index.yaml", maxIndexSize)
	if err != nil {
		return nil, fmt.Errorf("index of %s: %w", Sanitize(repoURL), err)
	}
	if err := yamldepth.Check(data, yamldepth.Max); err != nil {
		return nil, fmt.Errorf("index of %s: %w", Sanitize(repoURL), err)
	}
	idx := &repo.IndexFile{}
	if err := sigsyaml.Unmarshal(data, idx); err != nil {
		return nil, fmt.Errorf("index of %s: %w", Sanitize(repoURL), err)
	}
	if idx.APIVersion == "" {
		return nil, fmt.Errorf("index of %s: no apiVersion (not a Helm repository index)", Sanitize(repoURL))
	}
	idx.SortEntries()
	c.mu.Lock()
	if c.indexes == nil {
		c.indexes = map[string]cachedIndex{}
	}
	c.indexes[key] = cachedIndex{index: idx, fetched: time.Now()}
	c.mu.Unlock()
	return idx, nil
}

func (c *Cache) client() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return &http.Client{Timeout: c.timeout()}
}

func (c *Cache) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// get fetches u, at most limit bytes.
func (c *Cache) get(ctx context.Context, u string, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, errors.New(Sanitize(err.Error()))
	}
	resp, err := c.client().Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, fmt.Errorf("GET %s: %w", Sanitize(u), ue.Err)
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", Sanitize(u), resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", Sanitize(u), err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("GET %s: larger than %d bytes", Sanitize(u), limit)
	}
	return data, nil
}

// path is where a chart with the given sha256 is cached.
func (c *Cache) path(hexDigest string) string {
	return filepath.Join(c.Dir, "sha256", hexDigest+".tgz")
}

// store checks data against want (a sha256 in hex, or empty) and writes it
// atomically to the cache.
func (c *Cache) store(data []byte, want, what string) (string, error) {
	if c.Dir == "" {
		return "", errors.New("chartrepo: Cache.Dir is not set")
	}
	sum := sha256.Sum256(data)
	got := hex.EncodeToString(sum[:])
	if want != "" && !strings.EqualFold(want, got) {
		return "", fmt.Errorf("%s: digest mismatch: the index says sha256:%s, the download is sha256:%s", what, want, got)
	}
	p := c.path(got)
	if exists(p) {
		return p, nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".pull-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return "", err
	}
	return p, nil
}

func exists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// Sanitize removes credentials from the URLs in s.
func Sanitize(s string) string {
	return userinfo.ReplaceAllString(s, "$1")
}
