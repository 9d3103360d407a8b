package yamlnode

import "gopkg.in/yaml.v3"

// maxAliases bounds the aliases [Resolve] follows.
const maxAliases = 100

// Options say how a lookup reads a mapping. The zero value follows no
// alias and takes the first of duplicate keys.
type Options struct {
	// Aliases follows aliases: of the mapping, of a document's content and
	// of the value returned.
	Aliases bool
	// LastDuplicate takes the value of the last of duplicate keys, not of
	// the first.
	LastDuplicate bool
}

// Value is the value of key in the mapping n with the zero [Options].
func Value(n *yaml.Node, key string) *yaml.Node { return Options{}.Value(n, key) }

// Value is the value of key in the mapping n (or in the mapping a document
// n holds), or nil when n is nil, not a mapping or has no such key.
func (o Options) Value(n *yaml.Node, key string) *yaml.Node {
	n = o.resolve(n)
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = o.resolve(n.Content[0])
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var v *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v = n.Content[i+1]
			if !o.LastDuplicate {
				break
			}
		}
	}
	return o.resolve(v)
}

// Path is the value at keys under n, one mapping after another, or nil.
// With no keys it is n.
func (o Options) Path(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		n = o.Value(n, k)
	}
	return n
}

func (o Options) resolve(n *yaml.Node) *yaml.Node {
	if !o.Aliases {
		return n
	}
	return Resolve(n)
}

// Resolve follows aliases from n to the node they name (at most 100, in
// case of a cycle); nil stays nil.
func Resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < maxAliases; i++ {
		n = n.Alias
	}
	return n
}
