package main

import (
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/digitops/digitops/internal/yamlnode"
)

// yamlFile is a YAML file read for in-place edits: the yaml.v3 node tree
// locates what to change, and the edits splice bytes at the nodes'
// positions, so every other byte (comments, key order, quoting,
// indentation) stays as it was.
type yamlFile struct {
	path string
	data []byte
	root *yaml.Node
	// edits are applied by bytes() from the end of the file backwards.
	edits []splice
}

// splice replaces data[start:end] by text.
type splice struct {
	start, end int
	text       string
}

func parseYAMLFile(path string, data []byte) (*yamlFile, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("unable to parse %s: %w", path, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	return &yamlFile{path: path, data: data, root: root}, nil
}

// lookup returns the value at keys under m, or nil. Of duplicate keys it
// takes the last; an alias is returned as is (never edited through).
func lookup(m *yaml.Node, keys ...string) *yaml.Node {
	return yamlnode.Options{LastDuplicate: true}.Path(m, keys...)
}

// offset returns the byte offset of a node's 1-based line and column.
func (f *yamlFile) offset(line, column int) (int, error) {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(f.data[off:], '\n')
		if i < 0 {
			return 0, fmt.Errorf("%s: line %d is past the end of the file", f.path, line)
		}
		off += i + 1
	}
	// yaml.v3 counts columns in characters.
	rest := f.data[off:]
	if end := bytes.IndexByte(rest, '\n'); end >= 0 {
		rest = rest[:end]
	}
	runes := 0
	for i := range string(rest) {
		if runes == column-1 {
			return off + i, nil
		}
		runes++
	}
	if runes == column-1 {
		return off + len(rest), nil
	}
	return 0, fmt.Errorf("%s:%d: column %d is past the end of the line", f.path, line, column)
}

// setScalar replaces the scalar n by value, keeping its quoting style and
// quoting a plain value that YAML would not read back as the same string.
func (f *yamlFile) setScalar(n *yaml.Node, value string) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("%s:%d: want a single value here", f.path, n.Line)
	}
	start, err := f.offset(n.Line, n.Column)
	if err != nil {
		return err
	}
	var end int
	var text string
	switch n.Style {
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		q := f.data[start]
		close := bytes.IndexByte(f.data[start+1:], q)
		if close < 0 || bytes.Contains(f.data[start:start+1+close], []byte("\n")) {
			return fmt.Errorf("%s:%d: the value spans lines; edit it by hand", f.path, n.Line)
		}
		end = start + 1 + close + 1
		text = string(q) + value + string(q)
	case 0, yaml.FlowStyle:
		if !bytes.HasPrefix(f.data[start:], []byte(n.Value)) {
			return fmt.Errorf("%s:%d: the value is not written plainly on its line; edit it by hand", f.path, n.Line)
		}
		end = start + len(n.Value)
		text = plainOrQuoted(value)
	default:
		return fmt.Errorf("%s:%d: block scalars are not edited; write the value on one line", f.path, n.Line)
	}
	f.edits = append(f.edits, splice{start: start, end: end, text: text})
	return nil
}

// plainOrQuoted returns value as a plain scalar when YAML reads it back as
// the same string, else double-quoted (a tag such as 1.10 would become a
// number).
func plainOrQuoted(value string) string {
	var back any
	if err := yaml.Unmarshal([]byte("v: "+value), &back); err == nil {
		if m, ok := back.(map[string]any); ok {
			if s, ok := m["v"].(string); ok && s == value {
				return value
			}
		}
	}
	return fmt.Sprintf("%q", value)
}

// lastLine returns the last line a node's tree occupies.
func lastLine(n *yaml.Node) int {
	l := n.Line
	for _, c := range n.Content {
		l = max(l, lastLine(c))
	}
	return l
}

// insertTag adds `image: {tag: value}` (as block lines) to the block
// mapping m, after its last line, at its indentation.
func (f *yamlFile) insertTag(m *yaml.Node, value string) error {
	if m.Kind != yaml.MappingNode || m.Style == yaml.FlowStyle || len(m.Content) == 0 {
		return fmt.Errorf("%s:%d: want a block mapping to add image.tag to; add `image: {tag: ...}` by hand once", f.path, m.Line)
	}
	indent := strings.Repeat(" ", m.Content[0].Column-1)
	var lines string
	if img := lookup(m, "image"); img != nil {
		if img.Kind != yaml.MappingNode || img.Style == yaml.FlowStyle || len(img.Content) == 0 {
			return fmt.Errorf("%s:%d: image: is not a block mapping; set image.tag by hand once", f.path, img.Line)
		}
		m = img
		lines = strings.Repeat(" ", img.Content[0].Column-1) + "tag: " + plainOrQuoted(value) + "\n"
	} else {
		lines = indent + "image:\n" + indent + "  tag: " + plainOrQuoted(value) + "\n"
	}
	at, err := f.offset(lastLine(m)+1, 1)
	if err != nil {
		// The mapping ends on the last line of a file without a newline.
		at = len(f.data)
		lines = "\n" + lines
	}
	f.edits = append(f.edits, splice{start: at, end: at, text: lines})
	return nil
}

// bytes returns the file with every edit applied.
func (f *yamlFile) bytes() []byte {
	out := append([]byte(nil), f.data...)
	edits := append([]splice(nil), f.edits...)
	// Apply from the end so that earlier offsets stay valid.
	for i := 0; i < len(edits); i++ {
		for j := i + 1; j < len(edits); j++ {
			if edits[j].start > edits[i].start {
				edits[i], edits[j] = edits[j], edits[i]
			}
		}
	}
	for _, e := range edits {
		out = append(out[:e.start:e.start], append([]byte(e.text), out[e.end:]...)...)
	}
	return out
}
