package manifest

import "sort"

// StringLeaves returns every distinct non-empty string leaf of values, sorted.
// Layouts use it to list the values that came from a secrets file so that they
// can be masked wherever digitops prints anything.
func StringLeaves(values map[string]any) []string {
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		case string:
			if x != "" {
				seen[x] = true
			}
		}
	}
	walk(values)
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
