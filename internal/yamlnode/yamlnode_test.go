package yamlnode

import (
	"testing"

	"gopkg.in/yaml.v3"
)

const doc = `
base: &base
  tag: v1
dup: first
dup: second
svc: *base
nested:
  image:
    tag: v2
list: [a]
`

func TestOptions_Path(t *testing.T) {
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		// opts is how the lookup reads mappings.
		opts Options
		// keys is the path looked up from the document node.
		keys []string
		// want is the scalar found, or "" for nil; alias for an alias node.
		want string
	}{
		{name: "first duplicate", keys: []string{"dup"}, want: "first"},
		{name: "last duplicate", opts: Options{LastDuplicate: true}, keys: []string{"dup"}, want: "second"},
		{name: "nested", keys: []string{"nested", "image", "tag"}, want: "v2"},
		{name: "missing", keys: []string{"nested", "nope"}},
		{name: "not a mapping", keys: []string{"list", "a"}},
		{name: "alias node itself", keys: []string{"svc"}, want: "alias"},
		{name: "through an alias is nil without Aliases", keys: []string{"svc", "tag"}},
		{name: "through an alias", opts: Options{Aliases: true}, keys: []string{"svc", "tag"}, want: "v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.opts.Path(&root, tc.keys...)
			got := ""
			switch {
			case n == nil:
			case n.Kind == yaml.AliasNode:
				got = "alias"
			default:
				got = n.Value
			}
			if got != tc.want {
				t.Errorf("Path(%v) = %q, want %q", tc.keys, got, tc.want)
			}
		})
	}
	if Value(nil, "x") != nil {
		t.Error("Value(nil) is not nil")
	}
	if Resolve(nil) != nil {
		t.Error("Resolve(nil) is not nil")
	}
}
