package helmfile

import (
	"fmt"

	"gopkg.in/yaml.v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/digitops/digitops/source/manifest"
)

// maxMergeDepth bounds nested merge keys and aliases.
const maxMergeDepth = 32

// field is one key of a mapping once merge keys are resolved.
type field struct {
	key  string
	line int
	val  *yaml.Node
}

// deref follows aliases.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxMergeDepth; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return deref(n.Content[0])
	}
	return n
}

// isNull reports an absent or null node.
func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// fields returns the keys of a mapping with YAML merge keys (`<<: *x` or
// `<<: [*x, *y]`) resolved: explicit keys win over merged ones, and an
// earlier merged mapping wins over a later one.
func fields(n *yaml.Node) ([]field, error) {
	budget := maxMerges
	return fieldsDepth(n, 0, &budget)
}

// maxMerges bounds the mappings one fields call visits, so that merge keys
// of merge keys cannot blow up (a "billion laughs" of aliases).
const maxMerges = 10_000

func fieldsDepth(n *yaml.Node, depth int, budget *int) ([]field, error) {
	if depth > maxMergeDepth {
		return nil, fmt.Errorf("merge keys nested more than %d deep", maxMergeDepth)
	}
	if *budget--; *budget < 0 {
		return nil, fmt.Errorf("more than %d merged mappings", maxMerges)
	}
	n = deref(n)
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("want a mapping, got %s", kindName(n))
	}
	var out []field
	seen := map[string]bool{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag != "!!str" {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: keys must be strings", k.Line)
		}
		if seen[k.Value] {
			continue
		}
		seen[k.Value] = true
		out = append(out, field{key: k.Value, line: k.Line, val: v})
	}
	for _, m := range merges {
		m = deref(m)
		var srcs []*yaml.Node
		if m != nil && m.Kind == yaml.SequenceNode {
			srcs = m.Content
		} else {
			srcs = []*yaml.Node{m}
		}
		for _, s := range srcs {
			fs, err := fieldsDepth(s, depth+1, budget)
			if err != nil {
				return nil, fmt.Errorf("merge key: %w", err)
			}
			for _, f := range fs {
				if !seen[f.key] {
					seen[f.key] = true
					out = append(out, f)
				}
			}
		}
	}
	return out, nil
}

func kindName(n *yaml.Node) string {
	n = deref(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("the scalar %q", n.Value)
	}
	return "an unknown node"
}

// items returns the entries of a list; a single scalar or mapping is a list
// of one.
func items(n *yaml.Node) []*yaml.Node {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind == yaml.SequenceNode {
		out := make([]*yaml.Node, len(n.Content))
		for i, c := range n.Content {
			out[i] = deref(c)
		}
		return out
	}
	return []*yaml.Node{n}
}

// remapLines sets the line of every node to at(line): the line of the file
// that the rendered line comes from.
func remapLines(n *yaml.Node, at linePos) {
	if n == nil {
		return
	}
	n.Line = at(n.Line)
	for _, c := range n.Content {
		remapLines(c, at)
	}
}

// nodeAny decodes a node (aliases and merge keys resolved) into plain Go
// values.
func nodeAny(n *yaml.Node) (any, error) {
	var v any
	if err := deref(n).Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// nodeValues converts an inline values mapping into Helm values, the way
// `helm -f` would read it.
func nodeValues(n *yaml.Node, file string) (map[string]any, error) {
	v, err := nodeAny(n)
	if err != nil {
		return nil, &manifest.Error{File: file, Line: n.Line, Msg: "values: " + err.Error()}
	}
	data, err := sigsyaml.Marshal(v)
	if err != nil {
		return nil, &manifest.Error{File: file, Line: n.Line, Msg: "values: " + err.Error()}
	}
	return manifest.ParseValues(data, file)
}

// str decodes a scalar into a string.
func str(n *yaml.Node) (string, error) {
	n = deref(n)
	if isNull(n) {
		return "", nil
	}
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("want a string, got %s", kindName(n))
	}
	return n.Value, nil
}

// strList decodes a list of scalars (or one scalar).
func strList(n *yaml.Node) ([]string, error) {
	var out []string
	for _, it := range items(n) {
		s, err := str(it)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// strMap decodes a mapping of scalars.
func strMap(n *yaml.Node) (map[string]string, error) {
	fs, err := fields(n)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(fs))
	for _, f := range fs {
		s, err := str(f.val)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.key, err)
		}
		out[f.key] = s
	}
	return out, nil
}

// boolean decodes a YAML boolean.
func boolean(n *yaml.Node) (bool, error) {
	var b bool
	if err := deref(n).Decode(&b); err != nil {
		return false, fmt.Errorf("want true or false, got %s", kindName(n))
	}
	return b, nil
}
