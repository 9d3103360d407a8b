package reconciler

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/loader"
)

// An edit of one key of a real DIGIT environment file (unified-env's
// quickstart-config, zuul.replicas 1 -> 2) moves the render of exactly the
// release it belongs to, offline: every other release of the environment,
// each handed the whole environment file, renders the same objects, stamps
// of the render's clock (DIGIT's deployment-timestamp) aside. That is what
// lets an online plan upgrade one release and record the others.
func TestCorpus_environmentEditMovesOneRender(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the DIGIT-DevOps corpus: -short runs the unit tests only (make test plans it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	repo := corpusQuickstartRepo(t, "")
	const envFile = corpusQuickstartEnvFile
	// renders loads the environment and renders every release offline, as
	// an offline plan does; it returns the objects by release and the
	// window the renders were made in.
	renders := func() (map[string][]*unstructuredObjects, time.Time, time.Time) {
		t.Helper()
		env, err := loader.Environment(ctx, loader.Options{RepoDir: repo, Secrets: manifest.SecretsPlaceholder}, "quickstart")
		if err != nil {
			t.Fatal(err)
		}
		from := time.Now().Add(-time.Second)
		out := map[string][]*unstructuredObjects{}
		for _, spec := range env.Releases {
			if spec.Err != nil {
				t.Fatalf("release %s: %v", spec.Name, spec.Err)
			}
			c, err := (LocalCharts{}).Load(ctx, spec.Chart)
			if err != nil {
				t.Fatalf("release %s: %v", spec.Name, err)
			}
			m, err := Render(ctx, spec, c, RenderOptions{ServedAPIsOnly: true, NoCRDs: true})
			if err != nil {
				t.Fatalf("release %s: %v", spec.Name, err)
			}
			objs, err := kube.Objects(m)
			if err != nil {
				t.Fatal(err)
			}
			out[spec.Name] = append(out[spec.Name], &unstructuredObjects{namespace: spec.Namespace, objs: objs})
		}
		return out, from, time.Now().Add(time.Second)
	}
	before, _, _ := renders()
	p := filepath.Join(repo, envFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), "zuul:\n  replicas: 1\n", "zuul:\n  replicas: 2\n", 1)
	if edited == string(b) {
		t.Fatal("the environment file has no zuul.replicas: 1 to edit")
	}
	if err := os.WriteFile(p, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	after, from, to := renders()

	var moved []string
	for name, a := range after {
		old := before[name]
		if len(old) != 1 || len(a) != 1 {
			t.Fatalf("release %s rendered %d and %d times", name, len(old), len(a))
		}
		r := newReleaseRender(a[0].namespace, old[0].objs, a[0].objs)
		diffs := r.differences()
		if len(diffs) == 0 {
			continue
		}
		if _, clock := r.renderTimes(diffs, from, to); clock {
			continue // only stamps of the render's clock moved
		}
		moved = append(moved, name)
	}
	slices.Sort(moved)
	t.Logf("%d releases rendered twice; moved: %v", len(after), moved)
	if !slices.Equal(moved, []string{"zuul"}) {
		t.Errorf("releases whose render moved after zuul.replicas 1 -> 2: %v, want [zuul] (of %d)", moved, len(after))
	}
}

// unstructuredObjects are one render's objects and its release namespace.
type unstructuredObjects struct {
	namespace string
	objs      []*unstructured.Unstructured
}
