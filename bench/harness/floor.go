package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/digitops/digitops/bench/gen"
	"github.com/digitops/digitops/source/manifest/loader"
)

// FloorConcurrency is the number of server-side applies the floor has in
// flight, the same as digitops's default release concurrency.
const FloorConcurrency = 4

// floorKinds maps the kinds the benchmark renders to their resources: the
// floor knows them, so it spends no request on discovery.
var floorKinds = map[schema.GroupVersionKind]string{
	{Version: "v1", Kind: "ConfigMap"}:                           "configmaps",
	{Version: "v1", Kind: "Secret"}:                              "secrets",
	{Version: "v1", Kind: "Service"}:                             "services",
	{Version: "v1", Kind: "Namespace"}:                           "namespaces",
	{Group: "apps", Version: "v1", Kind: "Deployment"}:           "deployments",
	{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"}: "ingresses",
}

// runFloor server-side applies every object of the files, FloorConcurrency
// at a time, with no client-side rate limit. It is the floor tool's child
// process.
func runFloor(ctx context.Context, kubeconfig string, files []string) error {
	dyn, err := floorClient(kubeconfig)
	if err != nil {
		return err
	}
	var objs []*unstructured.Unstructured
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		o, err := splitManifest(string(b), "")
		if err != nil {
			return fmt.Errorf("unable to read %q: %w", f, err)
		}
		objs = append(objs, o...)
	}
	return applyAll(ctx, dyn, objs)
}

// runRenderFloor loads the digit environment of repo, renders every
// release on GOMAXPROCS workers (renderEnvironmentParallel) and applies
// what runFloor applies of a cold install: every object, then each
// release's record, release by release. It is the render floor tool's
// child process: the render is inside its measured time, where the floor's
// is before it.
func runRenderFloor(ctx context.Context, kubeconfig, repo string) error {
	dyn, err := floorClient(kubeconfig)
	if err != nil {
		return err
	}
	env, err := loader.Environment(ctx, loader.Options{RepoDir: repo}, gen.DigitEnvironment)
	if err != nil {
		return err
	}
	rs, err := renderEnvironmentParallel(ctx, env, 1, 0)
	if err != nil {
		return err
	}
	var objs []*unstructured.Unstructured
	for _, r := range rs {
		objs = append(append(objs, r.objects...), r.record)
	}
	return applyAll(ctx, dyn, objs)
}

// floorClient is the floors' client: no client-side throttling.
func floorClient(kubeconfig string) (dynamic.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("unable to read kubeconfig %q: %w", kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = -1, 0 // no client-side throttling: this is the floor
	return dynamic.NewForConfig(cfg)
}

// applyAll server-side applies objs, FloorConcurrency at a time.
func applyAll(ctx context.Context, dyn dynamic.Interface, objs []*unstructured.Unstructured) error {
	work := make(chan *unstructured.Unstructured)
	errs := make([]error, FloorConcurrency)
	var wg sync.WaitGroup
	for i := range FloorConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range work {
				if errs[i] != nil {
					continue
				}
				errs[i] = applyOne(ctx, dyn, o)
			}
		}()
	}
	for _, o := range objs {
		work <- o
	}
	close(work)
	wg.Wait()
	return errors.Join(errs...)
}

func applyOne(ctx context.Context, dyn dynamic.Interface, o *unstructured.Unstructured) error {
	gvk := o.GroupVersionKind()
	res, ok := floorKinds[gvk]
	if !ok {
		return fmt.Errorf("unable to apply %s %q: the floor knows no resource for this kind", gvk, o.GetName())
	}
	ri := dyn.Resource(gvk.GroupVersion().WithResource(res))
	var c dynamic.ResourceInterface = ri
	if o.GetNamespace() != "" && res != "namespaces" {
		c = ri.Namespace(o.GetNamespace())
	}
	_, err := c.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: "bench-floor", Force: true})
	if err != nil {
		return fmt.Errorf("unable to apply %s %s/%s: %w", gvk.Kind, o.GetNamespace(), o.GetName(), err)
	}
	return nil
}
