package drift

import (
	"strings"

	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// How the comparison pairs the items of lists: by the keys managedFields
// name, else by name, else item by item.

// duplicateKeys reports whether two items of a keyed list share their key.
func duplicateKeys(keys []string, items []any) bool {
	seen := make(map[string]bool, len(items))
	for _, item := range items {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		k := keyToken(keys, m)
		if seen[k] {
			return true
		}
		seen[k] = true
	}
	return false
}

// covers reports whether live holds every field desired sets, with the
// same value, list items in the same order (what the server adds, a
// default, is no difference).
func covers(desired, live any) bool {
	switch d := desired.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return false
		}
		for k, dv := range d {
			lv, has := l[k]
			if !has {
				if isEmptyValue(dv) {
					continue
				}
				return false
			}
			if !covers(dv, lv) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(d) {
			return false
		}
		for i := range d {
			if !covers(d[i], l[i]) {
				return false
			}
		}
		return true
	}
	return valuesEqual(desired, live)
}

func allMaps(l []any) bool {
	for _, item := range l {
		if _, ok := item.(map[string]any); !ok {
			return false
		}
	}
	return true
}

// listKeys returns the key fields of a list of maps, learned from the
// managedFields (`k:{...}` elements), else "name" when every item has one;
// nil means the list is compared as a whole.
func (w *walker) listKeys(fp fieldpath.Path, d, l []any) []string {
	for _, o := range w.owners {
		s := descend(o.set, fp)
		if s == nil {
			continue
		}
		var keys []string
		find := func(pe fieldpath.PathElement) {
			if keys == nil && pe.Key != nil {
				for _, f := range *pe.Key {
					keys = append(keys, f.Name)
				}
			}
		}
		s.Members.Iterate(find)
		s.Children.Iterate(find)
		if keys != nil {
			return keys
		}
	}
	if len(d)+len(l) == 0 {
		return nil
	}
	for _, list := range [][]any{d, l} {
		for _, item := range list {
			m, ok := item.(map[string]any)
			if !ok {
				return nil
			}
			if _, ok := m["name"]; !ok {
				return nil
			}
		}
	}
	return []string{"name"}
}

// matchItem finds the live item whose key fields equal the desired item's;
// a key field the desired item leaves out (a server default, like a port's
// protocol) matches any value.
func matchItem(keys []string, d map[string]any, live []any, taken []bool) int {
	if d == nil {
		return -1
	}
	for i, item := range live {
		l, ok := item.(map[string]any)
		if !ok || taken[i] {
			continue
		}
		match, some := true, false
		for _, k := range keys {
			dv, has := d[k]
			if !has {
				continue
			}
			some = true
			if !valuesEqual(dv, l[k]) {
				match = false
				break
			}
		}
		if match && some {
			return i
		}
	}
	return -1
}

func keyToken(keys []string, item map[string]any) string {
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		if v, ok := item[k]; ok {
			parts = append(parts, k+"="+scalarString(v))
		}
	}
	return EscapeToken(strings.Join(parts, ","))
}

func keyElement(keys []string, item map[string]any) fieldpath.PathElement {
	fl := value.FieldList{}
	for _, k := range keys {
		if v, ok := item[k]; ok {
			fl = append(fl, value.Field{Name: k, Value: value.NewValueInterface(v)})
		}
	}
	fl.Sort()
	return fieldpath.PathElement{Key: &fl}
}
