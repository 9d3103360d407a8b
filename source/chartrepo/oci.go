package chartrepo

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/registry"

	"github.com/digitops/digitops/source/manifest"
)

var userinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@`)

// pullOCI pulls oci://registry/path/name:version. The helm registry client
// takes no context, so each call runs aside and ctx abandons it.
func (c *Cache) pullOCI(ctx context.Context, ref manifest.ChartRef) (string, error) {
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
			return "", fmt.Errorf("chart %s: tags of oci://%s: %w", ref.Name, Sanitize(base), err)
		}
		if version, err = highest(tags, ref.Version); err != nil {
			return "", fmt.Errorf("chart %s in oci://%s: %w", ref.Name, Sanitize(base), err)
		}
	}
	tagged := base + ":" + strings.ReplaceAll(version, "+", "_")
	res, err := call(ctx, func() (*registry.PullResult, error) { return cl.Pull(tagged, registry.PullOptWithChart(true)) })
	if err != nil {
		return "", fmt.Errorf("chart %s %s: pull oci://%s: %w", ref.Name, version, Sanitize(tagged), err)
	}
	want := strings.TrimPrefix(res.Chart.Digest, "sha256:")
	return c.store(res.Chart.Data, want, fmt.Sprintf("chart %s %s from oci://%s", ref.Name, version, Sanitize(tagged)))
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
