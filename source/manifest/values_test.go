package manifest

import (
	"reflect"
	"testing"

	"helm.sh/helm/v3/pkg/strvals"
)

// TestOverlayValues checks that OverlayValues merges like MergeValues over
// deep copies, and writes into none of its inputs.
func TestOverlayValues(t *testing.T) {
	tests := []struct {
		name string
		// base and layers are merged, layers in order.
		base   map[string]any
		layers []map[string]any
	}{
		{name: "no layers", base: map[string]any{"a": map[string]any{"x": 1}}},
		{name: "nil base", layers: []map[string]any{{"a": 1}}},
		{name: "maps merge, the rest replaces", base: map[string]any{"a": map[string]any{"x": 1, "y": 2}, "b": []any{1}, "c": "keep"},
			layers: []map[string]any{{"a": map[string]any{"y": 3, "z": nil}, "b": []any{2}}}},
		{name: "deep, over three layers", base: map[string]any{"s": map[string]any{"c": map[string]any{"k": "v", "l": "w"}}},
			layers: []map[string]any{{"s": map[string]any{"c": map[string]any{"k": "1"}}}, {"s": map[string]any{"c": "flat"}}, {"s": map[string]any{"c": map[string]any{"m": 2}}}}},
		{name: "a map over a scalar", base: map[string]any{"a": "x"}, layers: []map[string]any{{"a": map[string]any{"b": 1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := CopyValues(tt.base)
			if want == nil {
				want = map[string]any{}
			}
			for _, l := range tt.layers {
				want = MergeValues(want, CopyValues(l))
			}
			base := CopyValues(tt.base)
			var layers []map[string]any
			for _, l := range tt.layers {
				layers = append(layers, CopyValues(l))
			}
			got := OverlayValues(tt.base, tt.layers...)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("OverlayValues = %v, want %v", got, want)
			}
			// Writes below any key, once detached, reach no input.
			for k := range got {
				if _, ok := got[k].(map[string]any); !ok {
					continue
				}
				DetachSetKey(got, k+".written")
				if err := strvals.ParseInto(k+".written=1", got); err != nil {
					t.Fatal(err)
				}
			}
			if !reflect.DeepEqual(tt.base, base) {
				t.Errorf("base changed: %v, was %v", tt.base, base)
			}
			for i := range layers {
				if !reflect.DeepEqual(tt.layers[i], layers[i]) {
					t.Errorf("layer %d changed: %v, was %v", i, tt.layers[i], layers[i])
				}
			}
		})
	}
}

// TestDetachSetKey checks which top-level values a --set key detaches.
func TestDetachSetKey(t *testing.T) {
	tests := []struct {
		name string
		// key is the --set key.
		key string
		// detached are the top-level keys that must be copies afterwards.
		detached []string
		// shared are those that must still be the originals.
		shared []string
	}{
		{name: "a nested key", key: "image.tag", detached: []string{"image"}, shared: []string{"list", "other"}},
		{name: "a list index", key: "list[0].name", detached: []string{"list"}, shared: []string{"image", "other"}},
		{name: "a top-level key", key: "name", shared: []string{"image", "list", "other"}},
		{name: "an escaped dot", key: `other\.x.y`, shared: []string{"image", "list", "other"}},
		{name: "a key Helm refuses", key: "image.", shared: []string{"image", "list", "other"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := map[string]any{
				"image": map[string]any{"tag": "1"},
				"list":  []any{map[string]any{"name": "a"}},
				"other": map[string]any{"x": map[string]any{"y": 1}},
			}
			vals := OverlayValues(orig)
			DetachSetKey(vals, tt.key)
			for _, k := range tt.detached {
				if !reflect.DeepEqual(vals[k], orig[k]) || sameRef(vals[k], orig[k]) {
					t.Errorf("%s: not a copy of the original", k)
				}
			}
			for _, k := range tt.shared {
				if !sameRef(vals[k], orig[k]) {
					t.Errorf("%s: copied, want the original", k)
				}
			}
		})
	}
}

// sameRef says whether two values are the same map or list.
func sameRef(a, b any) bool {
	return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer()
}
