package yamldepth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// blockKeys is n mappings each nested in the last, one key a line.
func blockKeys(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat(" ", i) + "k:\n")
	}
	return b.String()
}

func TestCheck(t *testing.T) {
	flow := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name string // case
		data string // the YAML
		max  int    // the limit
		line int    // the line reported, 0 for no error
	}{
		// The key's mapping is a level: 1 + 9 flow levels.
		{"flow at the limit", "x: " + flow(9) + "\n", 10, 0},
		{"flow over the limit", "x: " + flow(10) + "\n", 10, 1},
		{"flow mappings", "x: " + strings.Repeat("{a: ", 12) + strings.Repeat("}", 12) + "\n", 10, 1},
		{"JSON", `{"a":` + strings.Repeat(`[`, 12) + strings.Repeat(`]`, 12) + "}", 10, 1},
		{"flow collection over lines", "a: 1\nx: [\n [\n  [\n   [\n", 4, 5},
		{"flow key", strings.Repeat("[", 12) + strings.Repeat("]", 12) + ": 1\n", 10, 1},
		{"anchored flow", "x: &a !!seq " + flow(12) + "\n", 10, 1},
		{"block mappings at the limit", blockKeys(10), 10, 0},
		{"block mappings over the limit", blockKeys(11), 10, 11},
		{"block sequences", "- - - - - - - - - - - x\n", 10, 1},
		{"sequence items", "a:\n" + strings.Repeat("  - b\n", 50), 3, 0},
		{"mapping closed by a smaller indent", blockKeys(9) + blockKeys(9), 10, 0},
		{"flow closed", strings.Repeat("- "+flow(9)+"\n", 20), 10, 0},
		{"brackets in a double-quoted scalar", `x: "` + strings.Repeat("[", 50) + `\"[[["` + "\n", 10, 0},
		{"brackets in a single-quoted scalar", `x: '` + strings.Repeat("[", 50) + `''[[['` + "\n", 10, 0},
		{"brackets in a quoted scalar over lines", "x: \"[[[[[\n  [[[[[[[[\n  [[[\"\ny: 1\n", 10, 0},
		{"brackets in a quoted flow item", `x: ["]]]]]]", ` + flow(12) + "]\n", 10, 1},
		{"brackets in a plain scalar", "x: a" + strings.Repeat("[", 50) + "\ny: b {{{{{{{{{{{{{\n", 10, 0},
		{"brackets in a comment", "# " + strings.Repeat("[", 50) + "\nx: 1 # {{{{{{{{{{{{{{{{\n", 10, 0},
		{"brackets in a literal scalar", "x: |\n  " + strings.Repeat("[", 50) + "\n\n    {{{{{{{{{{{{{{\ny: 1\n", 10, 0},
		{"indentation in a folded scalar", "x: >-\n" + blockKeys(30)[:0] + indentAll(blockKeys(30), "  ") + "y: 1\n", 10, 0},
		{"flow after a literal scalar", "x: |\n  [[[[\ny: " + flow(12) + "\n", 10, 3},
		{"literal scalar with an indentation indicator", "x: |2\n   [[[[\n  [[[[\ny: " + flow(12) + "\n", 10, 4},
		// A quote that starts no quoted scalar (a plain scalar's second
		// line) hides nothing.
		{"quote in a plain scalar's second line", "a: foo\n  'bar\nb: " + flow(12) + "\nc: x'\n", 10, 3},
		{"quote inside a plain scalar", "a: don't\nb: " + flow(12) + "\nc: '\n", 10, 2},
		{"documents", "x: " + flow(9) + "\n---\ny: " + flow(9) + "\n...\n", 10, 0},
		{"CRLF lines", strings.ReplaceAll(blockKeys(11), "\n", "\r\n"), 10, 11},
		{"LS lines", strings.ReplaceAll(blockKeys(11), "\n", "\u2028"), 10, 11},
		{"empty", "", 10, 0},
		{"default limit", "x: " + flow(Max+1) + "\n", 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check([]byte(tt.data), tt.max)
			var de *Error
			switch {
			case tt.line == 0 && err != nil:
				t.Fatalf("Check = %v, want nil", err)
			case tt.line == 0:
			case !errors.As(err, &de):
				t.Fatalf("Check = %v, want an *Error at line %d", err, tt.line)
			case de.Line != tt.line:
				t.Fatalf("Check = %v, want line %d", err, tt.line)
			}
		})
	}
}

func indentAll(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+prefix) + "\n"
}

func TestError(t *testing.T) {
	err := Check([]byte("a:\n  b: [[[[]]]]\n"), 3)
	if got, want := err.Error(), "line 2: YAML nested deeper than 3 levels"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}

// TestCheck_examples: the repository's own YAML (examples, the chart)
// nests well under Max, as DIGIT's does.
func TestCheck_examples(t *testing.T) {
	n := 0
	for _, dir := range []string{"../../examples", "../../deploy"} {
		err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || (filepath.Ext(path) != ".yaml" && filepath.Ext(path) != ".yml") {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			n++
			if err := Check(data, 20); err != nil {
				t.Errorf("%s: %v", path, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n == 0 {
		t.Fatal("no YAML file found")
	}
}

// nodeDepth is the depth of the collections under n.
func nodeDepth(n *yaml.Node, budget *int) int {
	*budget--
	if *budget < 0 {
		return 0
	}
	d := 0
	for _, c := range n.Content {
		d = max(d, nodeDepth(c, budget))
	}
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		d++
	}
	return d
}

// FuzzCheck: what Check lets through, yaml.v3 parses no deeper than two
// levels per level counted (a block sequence under a key, at the key's
// indentation, is one indentation for two collections).
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"a: [b, {c: d}]\n", blockKeys(5), "- - - x\n", "a:\n- b\n- c: [d]\n", "x: |\n  [[[\n",
		"a: foo\n  'bar\nb: [[[]]]\n", `{"a":[[{"b":[]}]]}`, "? [a]\n: b\n", "a: \"x\\\"[\"\nb: [[]]\n",
	} {
		f.Add([]byte(s))
	}
	const limit = 8
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 || Check(data, limit) != nil {
			return
		}
		var n yaml.Node
		if yaml.Unmarshal(data, &n) != nil {
			return
		}
		budget := 100000
		if d := nodeDepth(&n, &budget); d > 2*limit+1 {
			t.Fatalf("Check(%q) passed, yaml.v3 nests %d levels", data, d)
		}
	})
}
