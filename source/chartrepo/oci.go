package chartrepo

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"helm.sh/helm/v3/pkg/registry"

	"github.com/digitops/digitops/source/manifest"
)

var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@`)

// pullOCI pulls oci://registry/path/name:version. The helm registry client
// takes no context, so each call runs aside and ctx abandons it.
func (c *Cache) pullOCI(ctx context.Context, ref manifest.ChartRef) (string, error) {
	if Sanitize(ref.RepoURL) != ref.RepoURL {
		return "", fmt.Errorf("chart %s: %s: credentials in an oci:// URL are not supported, log in to the registry instead", ref.Name, Sanitize(ref.RepoURL))
	}
	base := strings.TrimPrefix(strings.TrimSuffix(ref.RepoURL, "/"), "oci://") + "/" + ref.Name
	opts := []registry.ClientOption{registry.ClientOptHTTPClient(&http.Client{Timeout: c.timeout()})}
	if c.PlainHTTP {
		opts = append(opts, registry.ClientOptPlainHTTP())
	}
	cl, err := registry.NewClient(opts...)
	if err != nil {
		return "", err
	}
	version := ref.Version
	if _, err := semver.StrictNewVersion(version); err != nil {
		// Not an exact version: a constraint, or empty for the latest.
		tags, err := call(ctx, func() ([]string, error) { return cl.Tags(base) })
		if err != nil {
			return "", fmt.Errorf("chart %s: unable to list the tags of %s: %w", ref.Name, Sanitize("oci://"+base), err)
		}
		if version, err = highest(tags, ref.Version); err != nil {
			return "", fmt.Errorf("chart %s in %s: %w", ref.Name, Sanitize("oci://"+base), err)
		}
	}
	tagged := base + ":" + strings.ReplaceAll(version, "+", "_")
	shown := fmt.Sprintf("chart %s %s: oci://%s", ref.Name, version, tagged)
	shown = Sanitize(shown)
	// Resolve the tag (a HEAD of its manifest) and reuse the chart pulled
	// earlier for that manifest.
	desc, err := call(ctx, func() (ocispec.Descriptor, error) { return cl.Resolve(tagged) })
	if err != nil {
		return "", fmt.Errorf("%s: unable to resolve: %w", shown, err)
	}
	manifestDigest := desc.Digest.String()
	if p, ok := c.ociCached(manifestDigest); ok {
		return p, nil
	}
	pinned := base + "@" + manifestDigest
	res, err := call(ctx, func() (*registry.PullResult, error) { return cl.Pull(pinned, registry.PullOptWithChart(true)) })
	if err != nil {
		return "", fmt.Errorf("%s: unable to pull: %w", shown, err)
	}
	want := strings.TrimPrefix(res.Chart.Digest, "sha256:")
	p, err := c.store(res.Chart.Data, want, shown)
	if err != nil {
		return "", err
	}
	if err := c.ociRemember(manifestDigest, filepath.Base(p)); err != nil {
		return "", fmt.Errorf("%s: unable to record manifest %s: %w", shown, manifestDigest, err)
	}
	return p, nil
}

// ociPointer is the file that names the chart pulled for an OCI manifest:
// Dir/oci/<algorithm>/<hex> holds the name of a file in Dir/sha256.
func (c *Cache) ociPointer(manifestDigest string) (string, bool) {
	algo, hexDigest, ok := strings.Cut(manifestDigest, ":")
	if !ok || algo == "" || hexDigest == "" || strings.ContainsAny(manifestDigest, `/\.`) {
		return "", false
	}
	return filepath.Join(c.Dir, "oci", algo, hexDigest), true
}

// ociCached returns the cached chart of an OCI manifest, if any.
func (c *Cache) ociCached(manifestDigest string) (string, bool) {
	ptr, ok := c.ociPointer(manifestDigest)
	if !ok {
		return "", false
	}
	return c.readPointer(ptr)
}

// ociRemember records that the chart of an OCI manifest is Dir/sha256/name.
func (c *Cache) ociRemember(manifestDigest, name string) error {
	ptr, ok := c.ociPointer(manifestDigest)
	if !ok {
		return nil
	}
	return writePointer(ptr, name)
}

// highest returns the highest tag matching constraint (any release when
// constraint is empty).
func highest(tags []string, constraint string) (string, error) {
	var cons *semver.Constraints
	if constraint != "" {
		var err error
		if cons, err = semver.NewConstraint(constraint); err != nil {
			return "", fmt.Errorf("version %q: %w", constraint, err)
		}
	}
	var best *semver.Version
	for _, t := range tags {
		v, err := semver.NewVersion(t)
		if err != nil {
			continue
		}
		if cons == nil && v.Prerelease() != "" {
			continue
		}
		if cons != nil && !cons.Check(v) {
			continue
		}
		if best == nil || v.GreaterThan(best) {
			best = v
		}
	}
	if best == nil {
		return "", fmt.Errorf("no version matches %q (tags: %v)", constraint, tags)
	}
	return best.Original(), nil
}

// call runs f and returns early when ctx ends.
func call[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
