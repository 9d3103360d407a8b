package manifest

import (
	"errors"
	"os"

	"gopkg.in/yaml.v3"
	sigsyaml "sigs.k8s.io/yaml"
)

// ReadValuesFile reads a YAML values file the way `helm -f` does. name is the
// file's name in errors (relative to the repository).
func ReadValuesFile(path, name string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &Error{File: name, Msg: "values file does not exist"}
		}
		return nil, &Error{File: name, Msg: err.Error()}
	}
	return ParseValues(data, name)
}

// ParseValues parses YAML values; name is the source in errors.
func ParseValues(data []byte, name string) (map[string]any, error) {
	// Decode with yaml.v3 first for precise syntax errors with lines.
	var probe yaml.Node
	if err := yaml.Unmarshal(data, &probe); err != nil {
		return nil, yamlError(name, err)
	}
	if n := documentRoot(&probe); n != nil && n.Kind != 0 && n.Kind != yaml.MappingNode && !(n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return nil, &Error{File: name, Line: n.Line, Msg: "values must be a YAML mapping"}
	}
	// Then decode as Helm does (JSON-compatible types).
	vals := map[string]any{}
	if err := sigsyaml.Unmarshal(data, &vals); err != nil {
		return nil, yamlError(name, err)
	}
	if vals == nil {
		vals = map[string]any{}
	}
	return vals, nil
}

// NodeValues converts an inline YAML node (a mapping) into values.
func NodeValues(n *yaml.Node, name string) (map[string]any, error) {
	out, err := yaml.Marshal(n)
	if err != nil {
		return nil, &Error{File: name, Line: n.Line, Msg: err.Error()}
	}
	return ParseValues(out, name)
}

// MergeValues merges src into dst the way Helm merges several -f files: maps
// merge key by key, anything else in src replaces what dst has. dst is
// modified and returned.
func MergeValues(dst, src map[string]any) map[string]any {
	if dst == nil {
		dst = map[string]any{}
	}
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = MergeValues(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}

// CopyValues returns a deep copy of values.
func CopyValues(v map[string]any) map[string]any {
	if v == nil {
		return nil
	}
	out := make(map[string]any, len(v))
	for k, x := range v {
		out[k] = copyValue(x)
	}
	return out
}

func copyValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return CopyValues(x)
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = copyValue(x[i])
		}
		return out
	default:
		return v
	}
}
