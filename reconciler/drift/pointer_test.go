package drift

import "testing"

func TestPointerSet(t *testing.T) {
	obj := map[string]any{"a": map[string]any{"b/c": []any{"x", "y"}}}
	if !PointerSet(obj, "/a/b~1c/1", "z") {
		t.Fatal("pointerSet refused an existing path")
	}
	if v, _ := PointerGet(obj, "/a/b~1c/1"); v != "z" {
		t.Errorf("got %v, want z", v)
	}
	if PointerSet(obj, "/a/missing/x", "z") || PointerSet(obj, "/a/b~1c/7", "z") {
		t.Error("pointerSet set a path whose parent does not exist")
	}
	// Drift paths name list elements by their keys.
	dep := map[string]any{"containers": []any{
		map[string]any{"name": "init", "env": []any{}},
		map[string]any{"name": "app", "env": []any{map[string]any{"name": "TS", "value": "1"}}},
	}}
	if !PointerSet(dep, "/containers/name=app/env/name=TS/value", "2") {
		t.Fatal("pointerSet refused a keyed list path")
	}
	if v, _ := PointerGet(dep, "/containers/name=app/env/name=TS/value"); v != "2" {
		t.Errorf("keyed path: got %v, want 2", v)
	}
	if _, ok := PointerGet(dep, "/containers/name=other/env"); ok {
		t.Error("pointerGet found an element no key matches")
	}
}
