package harness

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/digitops/digitops/internal/parallel"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// rendered is one release rendered client-side, as Helm would install it.
type rendered struct {
	name, namespace string
	objects         []*unstructured.Unstructured
	// record is a Secret shaped like Helm's release record of this release.
	record *unstructured.Unstructured
}

// renderEnvironment renders every release of env with the Helm SDK, client
// side only, the way `helm template` does, one release after another. It
// is the render pass of the env-edit budget (Results.RenderPasses).
func renderEnvironment(ctx context.Context, env *manifest.Environment, version int) ([]rendered, error) {
	out := make([]rendered, 0, len(env.Releases))
	for _, spec := range env.Releases {
		r, err := renderRelease(ctx, spec, version)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// renderEnvironmentParallel is renderEnvironment on at most workers
// goroutines (GOMAXPROCS when workers < 1), as a tool that renders on every
// core would: the output is in env's release order all the same. The first
// release that fails to render stops the others from starting, and its
// error, which names it, is returned; so is ctx's when ctx ends first.
func renderEnvironmentParallel(ctx context.Context, env *manifest.Environment, version, workers int) ([]rendered, error) {
	out := make([]rendered, len(env.Releases))
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		first error
	)
	parallel.ForEach(rctx, len(env.Releases), workers, func(rctx context.Context, i int) {
		r, err := renderRelease(rctx, env.Releases[i], version)
		if err != nil {
			mu.Lock()
			defer mu.Unlock()
			// Only the first: the others may be the cancel it causes.
			if first == nil {
				first = err
				cancel()
			}
			return
		}
		out[i] = r
	})
	if first != nil {
		return nil, first
	}
	// ForEach starts nothing once ctx ends, and says nothing of it.
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// renderRelease renders one release with the Helm SDK, client side, and
// encodes its release record at version.
func renderRelease(ctx context.Context, spec manifest.ReleaseSpec, version int) (rendered, error) {
	if err := ctx.Err(); err != nil {
		return rendered{}, err
	}
	ch, err := reconciler.LocalCharts{}.Load(ctx, spec.Chart)
	if err != nil {
		return rendered{}, fmt.Errorf("unable to load the chart of release %q: %w", spec.Name, err)
	}
	inst := action.NewInstall(&action.Configuration{})
	inst.ClientOnly, inst.DryRun, inst.Replace = true, true, true
	inst.ReleaseName, inst.Namespace = spec.Name, spec.Namespace
	rel, err := inst.RunWithContext(ctx, ch, manifest.CopyValues(spec.MergedValues()))
	if err != nil {
		return rendered{}, fmt.Errorf("unable to render release %q: %w", spec.Name, err)
	}
	r := rendered{name: spec.Name, namespace: spec.Namespace}
	if r.objects, err = splitManifest(rel.Manifest, spec.Namespace); err != nil {
		return rendered{}, fmt.Errorf("unable to read the manifest of release %q: %w", spec.Name, err)
	}
	rel.Version = version
	rel.Info.Status = release.StatusDeployed
	if r.record, err = releaseRecord(rel); err != nil {
		return rendered{}, fmt.Errorf("unable to encode the release record of %q: %w", spec.Name, err)
	}
	return r, nil
}

// splitManifest splits a manifest into objects (kube.Objects, the one
// splitter); objects without a namespace get ns.
func splitManifest(m, ns string) ([]*unstructured.Unstructured, error) {
	objs, err := kube.Objects(m)
	for _, u := range objs {
		if u.GetNamespace() == "" {
			u.SetNamespace(ns)
		}
	}
	return objs, err
}

// releaseRecord encodes rel as Helm's Secret storage driver does (JSON,
// gzip, base64) in a Secret of the same name, type and labels.
func releaseRecord(rel *release.Release) (*unstructured.Unstructured, error) {
	js, err := json.Marshal(rel)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(js); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	enc := base64.StdEncoding.EncodeToString(buf.Bytes())
	s := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"type":       "helm.sh/release.v1",
		"metadata": map[string]any{
			"name":      fmt.Sprintf("sh.helm.release.v1.%s.v%d", rel.Name, rel.Version),
			"namespace": rel.Namespace,
			"labels": map[string]any{
				"name": rel.Name, "owner": "helm", "status": string(rel.Info.Status), "version": strconv.Itoa(rel.Version),
			},
		},
		// data is base64 of the bytes, and Helm's bytes are base64 already.
		"data": map[string]any{"release": base64.StdEncoding.EncodeToString([]byte(enc))},
	}}
	return s, nil
}

// writeObjects writes objects as one multi-document YAML stream.
func writeObjects(w io.Writer, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "---\n%s", b); err != nil {
			return err
		}
	}
	return nil
}
