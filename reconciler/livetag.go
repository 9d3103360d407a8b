package reconciler

import (
	"context"
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/digit"
)

// keepLiveImageTag resolves ReleaseSpec.KeepLiveImageTag: a service the
// release chart lists without a tag keeps the tag of the live release (read
// from the values Helm stored for it), else the chart default. It returns the
// spec to plan with and a note for the plan, or "".
func keepLiveImageTag(ctx context.Context, cluster *kube.Cluster, spec manifest.ReleaseSpec, live *kube.LiveRelease) (manifest.ReleaseSpec, string, error) {
	if !spec.KeepLiveImageTag {
		return spec, "", nil
	}
	if live == nil || cluster == nil || live.LastDeployed == 0 {
		return spec, fmt.Sprintf("release %q: the release chart names no image tag and nothing is deployed; the chart default applies", spec.Name), nil
	}
	rel, err := kube.ReadRelease(ctx, cluster, spec.Namespace, spec.Name, live.LastDeployed)
	if err != nil {
		return spec, "", fmt.Errorf("release %q: unable to read the live image tag: %w", spec.Name, err)
	}
	stored := chartutil.Values(rel.Config)
	// The values share maps with other releases: write only into copies.
	values := manifest.OverlayValues(spec.MergedValues())
	manifest.DetachValue(values, "image")
	manifest.DetachValue(values, "initContainers")
	kept := ""
	// The values a DIGIT release chart's tag sets together.
	for _, path := range digit.TagPaths() {
		v, err := stored.PathValue(path)
		if err != nil || v == nil {
			continue
		}
		setPath(values, path, v)
		if kept == "" {
			kept = fmt.Sprint(v)
		}
	}
	spec = spec.WithValues(values)
	if kept == "" {
		return spec, fmt.Sprintf("release %q: the release chart names no image tag and the live release sets none; the chart default applies", spec.Name), nil
	}
	return spec, fmt.Sprintf("release %q: the release chart names no image tag; keeping the live tag %s", spec.Name, kept), nil
}

// setPath sets a dotted path in values, creating maps on the way.
func setPath(values map[string]any, path string, v any) {
	m := values
	keys := strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = v
}
