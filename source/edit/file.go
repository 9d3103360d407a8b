package edit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/digitops/digitops/internal/repofs"
	"github.com/digitops/digitops/internal/yamlnode"
)

// File is a YAML file read for in-place edits: the yaml.v3 node tree
// locates what to change, and the edits splice bytes at the nodes'
// positions, so every other byte (comments, key order, quoting,
// indentation) stays as it was.
type File struct {
	// Path is the file on disk.
	Path string
	data []byte
	root *yaml.Node
	// edits are applied by Bytes from the end of the file backwards.
	edits []splice
}

// splice replaces data[start:end] by text.
type splice struct {
	start, end int
	text       string
}

// reader reads the files to edit.
type reader struct {
	ctx context.Context
	// repoDir is the repository root; files is it, confined and capped.
	repoDir string
	files   *repofs.Root
}

// read reads and parses path. A file inside the repository is read through
// repofs (its refusals, the size cap among them, name the file as the
// repository does); one outside it is the operator's own configuration, or
// a file it names, and is read directly, as loader.Config reads it.
func (r *reader) read(path string) (*File, error) {
	var data []byte
	var err error
	if inside(r.repoDir, path) {
		data, err = r.files.ReadFile(r.ctx, path)
	} else {
		data, err = os.ReadFile(path)
	}
	var refused *repofs.Error
	switch {
	case errors.As(err, &refused):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("unable to read %s: %w", path, err)
	}
	return parse(path, data)
}

// inside reports whether path is lexically under dir.
func inside(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func parse(path string, data []byte) (*File, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("unable to parse %s: %w", path, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	return &File{Path: path, data: data, root: root}, nil
}

// Original returns the file as it was read.
func (f *File) Original() []byte { return f.data }

// Changed reports whether the edits change any byte.
func (f *File) Changed() bool { return !bytes.Equal(f.Bytes(), f.data) }

// Write writes the edited file over the original.
func (f *File) Write() error {
	if err := os.WriteFile(f.Path, f.Bytes(), 0o644); err != nil {
		return fmt.Errorf("unable to write %s: %w", f.Path, err)
	}
	return nil
}

// lookup returns the value at keys under m, or nil. Of duplicate keys it
// takes the last; an alias is returned as is (never edited through).
func lookup(m *yaml.Node, keys ...string) *yaml.Node {
	return yamlnode.Options{LastDuplicate: true}.Path(m, keys...)
}

// offset returns the byte offset of a node's 1-based line and column.
func (f *File) offset(line, column int) (int, error) {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(f.data[off:], '\n')
		if i < 0 {
			return 0, fmt.Errorf("%s: line %d is past the end of the file", f.Path, line)
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
	return 0, fmt.Errorf("%s:%d: column %d is past the end of the line", f.Path, line, column)
}

// setScalar replaces the scalar n by value, keeping its quoting style and
// quoting a plain value that YAML would not read back as the same string.
func (f *File) setScalar(n *yaml.Node, value string) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("%s:%d: want a single value here", f.Path, n.Line)
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
			return fmt.Errorf("%s:%d: the value spans lines; edit it by hand", f.Path, n.Line)
		}
		end = start + 1 + close + 1
		text = string(q) + value + string(q)
	case 0, yaml.FlowStyle:
		if !bytes.HasPrefix(f.data[start:], []byte(n.Value)) {
			return fmt.Errorf("%s:%d: the value is not written plainly on its line; edit it by hand", f.Path, n.Line)
		}
		end = start + len(n.Value)
		text = plainOrQuoted(value)
	default:
		return fmt.Errorf("%s:%d: block scalars are not edited; write the value on one line", f.Path, n.Line)
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

// flowOf writes keys as the flow mapping a user adds by hand:
// "image: {tag: ...}".
func flowOf(keys []string) string {
	s := "..."
	for i := len(keys) - 1; i > 0; i-- {
		s = "{" + keys[i] + ": " + s + "}"
	}
	return keys[0] + ": " + s
}

// insert adds keys (as nested block lines, the last set to value) to the
// block mapping m: under the deepest of the keys' mappings m already has,
// after its last line, at its indentation. The last key must be absent.
func (f *File) insert(m *yaml.Node, keys []string, value string) error {
	if m.Kind != yaml.MappingNode || m.Style == yaml.FlowStyle || len(m.Content) == 0 {
		return fmt.Errorf("%s:%d: want a block mapping to add %s to; add `%s` by hand once", f.Path, m.Line, strings.Join(keys, "."), flowOf(keys))
	}
	i := 0
	for ; i < len(keys)-1; i++ {
		c := lookup(m, keys[i])
		if c == nil {
			break
		}
		if c.Kind != yaml.MappingNode || c.Style == yaml.FlowStyle || len(c.Content) == 0 {
			return fmt.Errorf("%s:%d: %s: is not a block mapping; set %s by hand once", f.Path, c.Line, keys[i], strings.Join(keys, "."))
		}
		m = c
	}
	indent := strings.Repeat(" ", m.Content[0].Column-1)
	var lines string
	for j := i; j < len(keys); j++ {
		if j == len(keys)-1 {
			lines += indent + keys[j] + ": " + plainOrQuoted(value) + "\n"
		} else {
			lines += indent + keys[j] + ":\n"
		}
		indent += "  "
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

// Bytes returns the file with every edit applied.
func (f *File) Bytes() []byte {
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
