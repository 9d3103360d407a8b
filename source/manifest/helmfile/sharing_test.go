package helmfile

import (
	"reflect"
	"testing"

	"github.com/digitops/digitops/source/manifest"
)

// TestReleases_sharedValuesFilesStayApart loads releases that name the same
// values file (read once, shared) and checks that what one release merges or
// sets over it reaches no other release, nor the environment's values.
func TestReleases_sharedValuesFilesStayApart(t *testing.T) {
	files := map[string]string{
		"env.yaml":   "image:\n  repository: app\n  pullPolicy: IfNotPresent\nsvc:\n  config:\n    a: \"1\"\n",
		"extra.yaml": "svc:\n  config:\n    b: \"2\"\nimage:\n  pullPolicy: Always\n",
		"helmfile.yaml": `environments:
  default:
    values: [env.yaml, extra.yaml]
releases:
  - name: one
    chart: ./charts/app
    values: [env.yaml, extra.yaml]
    set:
      - {name: image.tag, value: "1.0"}
      - {name: svc.config.c, value: "3"}
  - name: two
    chart: ./charts/app
    values: [env.yaml]
    set:
      - {name: image.tag, value: "2.0"}
  - name: three
    chart: ./charts/app
    values:
      - env.yaml
      - {svc: {config: {a: inline}}}
  - name: four
    chart: ./charts/app
    values:
      - env.yaml
`,
	}
	repo := writeRepo(t, files, "")
	rels, err := loadEnv(t, repo, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]any{
		"one": {
			"image": map[string]any{"repository": "app", "pullPolicy": "Always", "tag": "1.0"},
			"svc":   map[string]any{"config": map[string]any{"a": "1", "b": "2", "c": int64(3)}},
		},
		"two": {
			"image": map[string]any{"repository": "app", "pullPolicy": "IfNotPresent", "tag": "2.0"},
			"svc":   map[string]any{"config": map[string]any{"a": "1"}},
		},
		"three": {
			"image": map[string]any{"repository": "app", "pullPolicy": "IfNotPresent"},
			"svc":   map[string]any{"config": map[string]any{"a": "inline"}},
		},
		"four": {
			"image": map[string]any{"repository": "app", "pullPolicy": "IfNotPresent"},
			"svc":   map[string]any{"config": map[string]any{"a": "1"}},
		},
	}
	if len(rels) != len(want) {
		t.Fatalf("%d releases, want %d", len(rels), len(want))
	}
	for _, r := range rels {
		if !reflect.DeepEqual(r.Values, want[r.Name]) {
			t.Errorf("%s: values %v, want %v", r.Name, r.Values, want[r.Name])
		}
	}
	// Writing one release's values, as an upgrade's --set would after
	// copying, changes no other release's.
	before := make([]map[string]any, len(rels))
	for i, r := range rels {
		before[i] = manifest.CopyValues(r.Values)
	}
	for i := range rels {
		v := manifest.OverlayValues(rels[i].Values)
		for _, k := range []string{"image", "svc"} {
			manifest.DetachValue(v, k)
			v[k].(map[string]any)["written"] = true
		}
		for j, o := range rels {
			if !reflect.DeepEqual(o.Values, before[j]) {
				t.Fatalf("writing the values of %s changed those of %s", rels[i].Name, o.Name)
			}
		}
	}
}
