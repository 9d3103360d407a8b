package diff

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"gopkg.in/yaml.v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/digitops/digitops/internal/redact"
)

// Change says what happened to one object.
type Change string

// The changes an object can have.
const (
	Added   Change = "added"
	Removed Change = "removed"
	Changed Change = "changed"
)

// Key identifies an object in a manifest.
type Key struct {
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
}

// String returns the key as "apps/v1 Deployment egov/egov-user".
func (k Key) String() string {
	name := k.Name
	if k.Namespace != "" {
		name = k.Namespace + "/" + k.Name
	}
	return k.APIVersion + " " + k.Kind + " " + name
}

func (k Key) less(o Key) bool {
	if k.Namespace != o.Namespace {
		return k.Namespace < o.Namespace
	}
	if k.Kind != o.Kind {
		return k.Kind < o.Kind
	}
	if k.Name != o.Name {
		return k.Name < o.Name
	}
	return k.APIVersion < o.APIVersion
}

// Op is the kind of one diff line.
type Op byte

// The line kinds.
const (
	// Context is an unchanged line shown around a change.
	Context Op = ' '
	// Insert is a line only the new object has.
	Insert Op = '+'
	// Delete is a line only the old object has.
	Delete Op = '-'
	// Hunk is a hunk header (@@ -a,b +c,d @@).
	Hunk Op = '@'
)

// Line is one line of an object's diff.
type Line struct {
	Op   Op
	Text string
}

// String returns the line as a unified diff prints it.
func (l Line) String() string {
	if l.Op == Hunk {
		return l.Text
	}
	return string(l.Op) + " " + l.Text
}

// Object is one added, removed or changed object.
type Object struct {
	Key    Key
	Change Change
	// Lines are the object's diff: every line for an added or removed
	// object, hunks with context for a changed one.
	Lines []Line
}

// Options adjust a comparison.
type Options struct {
	// Secrets are strings to mask wherever they appear (ReleaseSpec.SecretValues).
	Secrets []string
	// Context is the number of unchanged lines shown around a change; 0
	// means 3.
	Context int
}

// Manifests compares two multi-document manifests (old may be empty, for an
// install; new may be empty, for an uninstall) and returns the objects that
// differ, ordered by namespace, kind and name.
func Manifests(old, new string, opts Options) ([]Object, error) {
	a, err := parse(old, opts.Secrets)
	if err != nil {
		return nil, fmt.Errorf("unable to read the old manifest: %w", err)
	}
	b, err := parse(new, opts.Secrets)
	if err != nil {
		return nil, fmt.Errorf("unable to read the new manifest: %w", err)
	}
	ctx := opts.Context
	if ctx <= 0 {
		ctx = 3
	}
	var out []Object
	for k, text := range b {
		before, ok := a[k]
		switch {
		case !ok:
			out = append(out, Object{Key: k, Change: Added, Lines: whole(Insert, text)})
		case before != text:
			out = append(out, Object{Key: k, Change: Changed, Lines: hunks(before, text, ctx)})
		}
	}
	for k, text := range a {
		if _, ok := b[k]; !ok {
			out = append(out, Object{Key: k, Change: Removed, Lines: whole(Delete, text)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key.less(out[j].Key) })
	return out, nil
}

// parse splits a manifest into normalised, masked object texts by key.
func parse(manifest string, secrets []string) (map[Key]string, error) {
	out := map[Key]string{}
	dec := yaml.NewDecoder(strings.NewReader(manifest))
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(obj) == 0 {
			continue
		}
		k := keyOf(obj)
		if k.Kind == "Secret" {
			maskSecret(obj)
		}
		b, err := sigsyaml.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("object %s: %w", k, err)
		}
		out[k] = redact.Secrets(string(b), secrets)
	}
}

func keyOf(obj map[string]any) Key {
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	k := Key{APIVersion: str(obj, "apiVersion"), Kind: str(obj, "kind")}
	if md, ok := obj["metadata"].(map[string]any); ok {
		k.Namespace, k.Name = str(md, "namespace"), str(md, "name")
	}
	return k
}

// maskSecret replaces every value of a Secret's data and stringData by its
// masked hash, in place.
func maskSecret(obj map[string]any) {
	for _, field := range []string{"data", "stringData"} {
		m, ok := obj[field].(map[string]any)
		if !ok {
			continue
		}
		for k, v := range m {
			s := fmt.Sprint(v)
			if field == "data" {
				// Hash the value, not its encoding, so that the same secret
				// shows the same hash in data, stringData and elsewhere.
				if dec, err := base64.StdEncoding.DecodeString(s); err == nil {
					s = string(dec)
				}
			}
			m[k] = redact.Value(s)
		}
	}
}

func splitLines(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

func whole(op Op, text string) []Line {
	lines := splitLines(text)
	out := make([]Line, len(lines))
	for i, l := range lines {
		out[i] = Line{Op: op, Text: l}
	}
	return out
}

// hunks returns a unified diff of two texts, context lines around each change.
func hunks(a, b string, context int) []Line {
	al, bl := splitLines(a), splitLines(b)
	m := difflib.NewMatcher(al, bl)
	var out []Line
	for _, group := range m.GetGroupedOpCodes(context) {
		first, last := group[0], group[len(group)-1]
		out = append(out, Line{Op: Hunk, Text: fmt.Sprintf("@@ -%s +%s @@", span(first.I1, last.I2), span(first.J1, last.J2))})
		for _, c := range group {
			switch c.Tag {
			case 'e':
				for _, l := range al[c.I1:c.I2] {
					out = append(out, Line{Op: Context, Text: l})
				}
			case 'r', 'd', 'i':
				for _, l := range al[c.I1:c.I2] {
					out = append(out, Line{Op: Delete, Text: l})
				}
				for _, l := range bl[c.J1:c.J2] {
					out = append(out, Line{Op: Insert, Text: l})
				}
			}
		}
	}
	return out
}

// span formats a unified diff range (1-based start, length).
func span(start, stop int) string {
	n := stop - start
	switch n {
	case 1:
		return fmt.Sprintf("%d", start+1)
	case 0:
		return fmt.Sprintf("%d,0", start)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

// Style says how Write prints.
type Style struct {
	// Color uses ANSI colours (for a terminal).
	Color bool
	// Indent is put before every line.
	Indent string
}

// ANSI colours.
const (
	red    = "\x1b[31m"
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	cyan   = "\x1b[36m"
	bold   = "\x1b[1m"
	reset  = "\x1b[0m"
)

// Symbol is the one-character mark of a change: +, - or ~.
func (c Change) Symbol() string {
	switch c {
	case Added:
		return "+"
	case Removed:
		return "-"
	}
	return "~"
}

// Write prints objs as a readable diff: a header per object, then its lines.
func Write(w io.Writer, objs []Object, st Style) error {
	var buf bytes.Buffer
	paint := func(colour, s string) string {
		if !st.Color {
			return s
		}
		return colour + s + reset
	}
	for _, o := range objs {
		colour := yellow
		switch o.Change {
		case Added:
			colour = green
		case Removed:
			colour = red
		}
		fmt.Fprintf(&buf, "%s%s\n", st.Indent, paint(bold+colour, o.Change.Symbol()+" "+o.Key.String()+" ("+string(o.Change)+")"))
		for _, l := range o.Lines {
			s := l.String()
			switch l.Op {
			case Insert:
				s = paint(green, s)
			case Delete:
				s = paint(red, s)
			case Hunk:
				s = paint(cyan, s)
			}
			fmt.Fprintf(&buf, "%s  %s\n", st.Indent, s)
		}
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// Count returns the number of added, changed and removed objects.
func Count(objs []Object) (added, changed, removed int) {
	for _, o := range objs {
		switch o.Change {
		case Added:
			added++
		case Changed:
			changed++
		case Removed:
			removed++
		}
	}
	return added, changed, removed
}
