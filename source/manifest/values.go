package manifest

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"

	"gopkg.in/yaml.v3"
	"helm.sh/helm/v3/pkg/strvals"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/digitops/digitops/internal/repofs"
)

// ReadValuesFile reads a YAML values file the way `helm -f` does, through
// files (see ReadRepoFile). name is the file's name in errors (relative to
// the repository).
func ReadValuesFile(ctx context.Context, files *repofs.Root, path, name string) (map[string]any, error) {
	data, err := ReadRepoFile(ctx, files, path, name, "values file")
	if err != nil {
		return nil, err
	}
	return ParseValues(data, name)
}

// ReadRepoFile reads a file of the repository through files, which keeps
// the read inside the repository, to regular files under a size cap; nil
// files reads it unconfined (tests, and the operator's own --config). name
// is the file's name in errors; what says what it is ("values file") in
// "<what> does not exist".
func ReadRepoFile(ctx context.Context, files *repofs.Root, path, name, what string) ([]byte, error) {
	var data []byte
	var err error
	if files != nil {
		data, err = files.ReadFile(ctx, path)
	} else {
		data, err = os.ReadFile(path)
	}
	if err == nil {
		return data, nil
	}
	var confined *repofs.Error
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, fs.ErrNotExist):
		return nil, &Error{File: name, Msg: what + " does not exist"}
	case errors.As(err, &confined):
		return nil, &Error{File: name, Line: confined.Line, Msg: confined.Msg}
	}
	return nil, &Error{File: name, Msg: err.Error()}
}

// ParseValues parses YAML values; name is the source in errors.
func ParseValues(data []byte, name string) (map[string]any, error) {
	if err := CheckYAML(data, name); err != nil {
		return nil, err
	}
	// Decode with yaml.v3 first for precise syntax errors with lines.
	var probe yaml.Node
	if err := yaml.Unmarshal(data, &probe); err != nil {
		return nil, yamlSyntaxError(name, data, err)
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
	v, err := ParseValues(out, name)
	if e, ok := err.(*Error); ok {
		// Lines of the snippet are counted from the node's own line.
		if e.Line > 0 {
			e.Line += n.Line - 1
		} else {
			e.Line = n.Line
		}
	}
	return v, err
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

// OverlayValues returns base with each layer merged over it in order, the
// way Helm merges several -f files (see MergeValues), and modifies neither
// base nor any layer. The result's top-level map is new; below it, a map is
// new only where a layer merged into it, and everything else is shared with
// the inputs. That is what lets every release of a DIGIT environment carry
// the whole environment file without a copy of it each: treat the result as
// read-only below its top level, and call DetachValue (or DetachSetKey)
// before writing under a key.
func OverlayValues(base map[string]any, layers ...map[string]any) map[string]any {
	out := make(map[string]any, len(base))
	maps.Copy(out, base)
	for _, l := range layers {
		overlayInto(out, l)
	}
	return out
}

// overlayInto merges src into dst, which the caller owns, copying every map
// of dst it merges into instead of writing into it.
func overlayInto(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				m := make(map[string]any, len(dm)+len(sm))
				maps.Copy(m, dm)
				overlayInto(m, sm)
				dst[k] = m
				continue
			}
		}
		dst[k] = v
	}
}

// DetachValue replaces vals[key] by a deep copy of it, so that writes below
// key reach no map or list shared with other values (see OverlayValues).
func DetachValue(vals map[string]any, key string) {
	if v, ok := vals[key]; ok {
		vals[key] = copyValue(v)
	}
}

// DetachSetKey prepares vals for Helm's --set parser: every top-level value
// that `--set <key>=...` writes under is replaced by a deep copy (see
// DetachValue), so that strvals.ParseInto(key+"="+value, vals) changes
// nothing shared. key is the part of the expression before '='.
func DetachSetKey(vals map[string]any, key string) {
	// Let Helm's own parser say which top-level keys the expression names:
	// it writes them, and only them, into an empty map. A key it refuses
	// is refused again, with its error, when the caller sets it.
	probe := map[string]any{}
	_ = strvals.ParseInto(key+"=x", probe)
	for k := range probe {
		DetachValue(vals, k)
	}
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
