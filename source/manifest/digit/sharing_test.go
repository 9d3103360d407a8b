package digit_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/strvals"

	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/digit"
	"github.com/digitops/digitops/source/manifest/loader"
)

// TestLayout_sharedValuesStayApart loads the example with an environment
// file that has top-level image and initContainers maps (which every
// release's --set image.tag writes under) and checks that releases, which
// share the environment file's values, still each get their own tag, and
// that writing one release's values the way an upgrade's --set does changes
// no other release's values nor the environment file's.
func TestLayout_sharedValuesStayApart(t *testing.T) {
	repo := t.TempDir()
	if err := os.CopyFS(repo, os.DirFS(exampleDir(t))); err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(repo, "deploy-as-code", "helm", "environments", "demo.yaml")
	f, err := os.OpenFile(envFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("image:\n  pullPolicy: IfNotPresent\ninitContainers:\n  dbMigration:\n    image:\n      pullPolicy: Always\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	env, err := loader.Environment(context.Background(), loader.Options{RepoDir: repo}, "demo")
	if err != nil {
		t.Fatal(err)
	}
	fileVals, err := manifest.ReadValuesFile(context.Background(), nil, envFile, "demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	snapshot := func() []map[string]any {
		out := make([]map[string]any, len(env.Releases))
		for i, r := range env.Releases {
			out[i] = manifest.CopyValues(r.MergedValues())
		}
		return out
	}
	// Each release as loaded: its own tags, and the environment file's
	// values under every key nothing else sets.
	tagged := 0
	for _, r := range env.Releases {
		// Kept as a recipe over the one environment file, merged on read.
		if r.Lazy == nil || r.Values != nil || !sameMap(r.Lazy.Base, env.Releases[0].Lazy.Base) {
			t.Errorf("%s: values kept merged (Lazy %v), want a recipe over the shared environment file", r.Name, r.Lazy)
		}
		if r.Name == digit.ClusterConfigsChart {
			continue
		}
		if len(r.Images) > 0 {
			tagged++
			tag := r.Images[0][strings.LastIndex(r.Images[0], ":")+1:]
			for _, path := range [][]string{{"image"}, {"initContainers", "dbMigration", "image"}} {
				if got := tagOf(t, r.MergedValues(), path...); got != tag {
					t.Errorf("%s: %v.tag = %q, want %q (from %s)", r.Name, path, got, tag, r.Images[0])
				}
			}
		}
		for k, want := range fileVals {
			if k == "image" || k == "initContainers" {
				continue
			}
			if !reflect.DeepEqual(r.MergedValues()[k], want) {
				t.Errorf("%s: values[%q] = %v, want the environment file's %v", r.Name, k, r.MergedValues()[k], want)
			}
		}
		img, _ := r.MergedValues()["image"].(map[string]any)
		if img["pullPolicy"] != "IfNotPresent" {
			t.Errorf("%s: image.pullPolicy %v, want the environment file's IfNotPresent", r.Name, img["pullPolicy"])
		}
	}
	if tagged < 2 {
		t.Fatalf("only %d releases have a tag: the test needs two", tagged)
	}
	before := snapshot()
	tests := []struct {
		name string
		// writable returns values of a release that may be written.
		writable func(map[string]any) map[string]any
	}{
		{name: "a deep copy", writable: manifest.CopyValues},
		{name: "an overlay, detached per key", writable: func(v map[string]any) map[string]any { return manifest.OverlayValues(v) }},
	}
	sets := []string{"image.tag=mutated", "initContainers.dbMigration.image.tag=mutated", "global.domain=mutated", "accounts.heap=mutated", "labels.group=mutated", "name=mutated", "cluster-configs.namespaces.create=false"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, r := range env.Releases {
				v := tt.writable(r.MergedValues())
				for _, s := range sets {
					key, _, _ := strings.Cut(s, "=")
					manifest.DetachSetKey(v, key)
					if err := strvals.ParseInto(s, v); err != nil {
						t.Fatal(err)
					}
				}
				for j, o := range env.Releases {
					if !reflect.DeepEqual(o.MergedValues(), before[j]) {
						t.Fatalf("writing the values of %s changed those of %s", r.Name, env.Releases[j].Name)
					}
				}
				if reflect.DeepEqual(v, before[i]) {
					t.Fatalf("%s: the writes changed nothing: the test proves nothing", r.Name)
				}
			}
			again, err := manifest.ReadValuesFile(context.Background(), nil, envFile, "demo.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(again, fileVals) {
				t.Error("the environment file's values changed")
			}
		})
	}
}

// tagOf returns values.<path>.tag as a string.
func tagOf(t *testing.T, values map[string]any, path ...string) string {
	t.Helper()
	m := values
	for _, k := range path {
		next, ok := m[k].(map[string]any)
		if !ok {
			t.Fatalf("values.%v: not a map", path)
		}
		m = next
	}
	s, _ := m["tag"].(string)
	return s
}

// sameMap says whether a and b are the same map (not equal ones).
func sameMap(a, b map[string]any) bool {
	return a != nil && reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}
