// Package yamlnode reads values out of parsed YAML (gopkg.in/yaml.v3 nodes)
// by key, the one mapping lookup digitops's readers of line numbers and
// editors of files share.
//
// Callers differ on two points, and say which they want with [Options]:
// whether aliases are followed (policy reads through them; config's line
// recovery and set-image's editor must see the alias node itself, which
// they then skip as not a mapping or a list), and which of duplicate keys
// counts (set-image edits the last, the one a decoder keeps; the others
// read the first). A document node is always looked through to its
// content.
package yamlnode
