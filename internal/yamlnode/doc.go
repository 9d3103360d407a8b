// Package yamlnode reads values out of parsed YAML (gopkg.in/yaml.v3 nodes)
// by key, the one mapping lookup digitops's readers of line numbers and
// editors of files share.
//
// Callers differ on two points, and say which they want with [Options]:
// whether aliases are followed (policy reads through them; config's line
// recovery, a chart's dependencies and set-image's editor see the alias
// node itself and skip it, as neither a mapping nor a list), and which of
// duplicate keys counts (set-image has always edited the last; the others
// read the first). A document node is always looked through to its
// content.
package yamlnode
