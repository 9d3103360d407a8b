package drift

import (
	"fmt"
	"strconv"
	"strings"
)

// JSON pointers ("/spec/template/metadata/annotations/x"), with the tokens
// of associative lists as drift items write them ("name=app"): the path
// syntax of drift items, read and written on decoded objects.

// PointerTokens splits a JSON pointer ("/a/b~1c/0") into its tokens.
func PointerTokens(path string) []string {
	toks := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i, t := range toks {
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return toks
}

// PointerGet reads the value at a JSON pointer.
func PointerGet(obj map[string]any, path string) (any, bool) {
	var cur any = obj
	for _, t := range PointerTokens(path) {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[t]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i := listIndex(c, t)
			if i < 0 {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// listIndex finds the element a path token names in a list: an index
// ("0"), or the keys of an associative list as drift paths write them
// ("name=app", "port=8080,protocol=TCP"); -1 when none.
func listIndex(list []any, tok string) int {
	if i, err := strconv.Atoi(tok); err == nil {
		if i >= 0 && i < len(list) {
			return i
		}
		return -1
	}
	var keys [][2]string
	for _, kv := range strings.Split(tok, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return -1
		}
		keys = append(keys, [2]string{k, v})
	}
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		match := true
		for _, kv := range keys {
			if fmt.Sprint(m[kv[0]]) != kv[1] {
				match = false
				break
			}
		}
		if match {
			return i
		}
	}
	return -1
}

// PointerSet sets the value at a JSON pointer whose parent exists; it
// reports whether it did.
func PointerSet(obj map[string]any, path string, v any) bool {
	toks := PointerTokens(path)
	parent, ok := PointerGet(obj, "/"+strings.Join(escapeTokens(toks[:len(toks)-1]), "/"))
	if len(toks) == 1 {
		parent, ok = obj, true
	}
	if !ok {
		return false
	}
	last := toks[len(toks)-1]
	switch p := parent.(type) {
	case map[string]any:
		p[last] = v
		return true
	case []any:
		i := listIndex(p, last)
		if i < 0 {
			return false
		}
		p[i] = v
		return true
	}
	return false
}

// escapeTokens escapes each token of a JSON pointer.
func escapeTokens(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = EscapeToken(t)
	}
	return out
}
