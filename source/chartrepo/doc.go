// Package chartrepo fetches remote Helm charts for digitops: from https
// chart repositories (index.yaml) and from OCI registries, into a local
// cache keyed by digest, outside any Git checkout.
//
//	c := &chartrepo.Cache{Dir: "/var/cache/digitops/charts"}
//	path, err := c.Pull(ctx, manifest.ChartRef{RepoURL: "https://charts.example.org", Name: "redis", Version: "^19.0.0"})
//	ch, err := loader.Load(path) // helm.sh/helm/v3/pkg/chart/loader
//
// A version may be exact or a semver constraint; the highest matching
// release wins (pre-releases only when the constraint names one). Each Pull
// resolves the version again (index.yaml is kept for IndexTTL), and
// downloads only when the digest is not cached yet. Downloads are checked
// against the index's digest and written atomically; credentials never
// appear in errors.
package chartrepo
