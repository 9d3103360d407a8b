package policy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/digitops/digitops/internal/yamldepth"
	"github.com/digitops/digitops/internal/yamlnode"
	"github.com/digitops/digitops/source/manifest"
)

// Read reads and parses the policy file at path (at most 1 MiB; bigger is
// an error naming the file).
func Read(ctx context.Context, path string) (*Policy, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot read the policy: " + pathErr(err)}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(ctxReader{ctx, f}, MaxSize+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &Error{File: path, Msg: "cannot read the policy: " + pathErr(err)}
	}
	return Parse(path, data)
}

// ctxReader stops reading when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// pathErr is err without the path a *fs.PathError repeats.
func pathErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// The file as decoded: strictly, so that an unknown field is an error.
type (
	file struct {
		Environments map[string]rulesFile `yaml:"environments"`
	}
	rulesFile struct {
		Namespaces    []string       `yaml:"namespaces"`
		ClusterScoped []string       `yaml:"clusterScoped"`
		Clusters      []clusterEntry `yaml:"clusters"`
		Lookup        bool           `yaml:"lookup"`
	}
	clusterEntry struct {
		Context          string       `yaml:"context"`
		Kubeconfig       string       `yaml:"kubeconfig"`
		KubeconfigSecret *secretEntry `yaml:"kubeconfigSecret"`
	}
	secretEntry struct {
		Namespace string `yaml:"namespace"`
		Name      string `yaml:"name"`
		Key       string `yaml:"key"`
	}
)

// Parse parses data read from path (path is for messages only).
func Parse(path string, data []byte) (*Policy, error) {
	if len(data) > MaxSize {
		return nil, &Error{File: path, Msg: "the policy is larger than 1 MiB"}
	}
	if err := yamldepth.Check(data, yamldepth.Max); err != nil {
		var de *yamldepth.Error
		if errors.As(err, &de) {
			return nil, &Error{File: path, Line: de.Line, Msg: de.Msg()}
		}
		return nil, &Error{File: path, Msg: err.Error()}
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: path, Msg: noEnvironments}
		}
		return nil, yamlError(path, err)
	}
	var second yaml.Node
	if err := dec.Decode(&second); err == nil {
		return nil, &Error{File: path, Line: second.Line, Msg: "a second YAML document: the policy is one document (remove the ---)"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(path, err)
	}
	lines := linesOf(data)
	if _, ok := f.Environments[""]; !ok {
		// A null key (~:) the decode dropped.
		if at, ok := lines[""]; ok {
			return nil, &Error{File: path, Line: at.line, Msg: `environments[""]: an empty environment name`}
		}
	}
	if len(f.Environments) == 0 {
		return nil, &Error{File: path, Msg: noEnvironments}
	}
	keys := make([]string, 0, len(f.Environments))
	for k := range f.Environments {
		keys = append(keys, k)
	}
	// Check in file order, so the first error is the first in the file.
	slices.SortFunc(keys, func(a, b string) int {
		if c := lines[a].line - lines[b].line; c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	p := &Policy{path: path, exact: map[string]*Rules{}}
	for _, k := range keys {
		r, err := newRules(path, k, f.Environments[k], lines[k])
		if err != nil {
			return nil, err
		}
		p.exact[k] = r
		p.ordered = append(p.ordered, r)
	}
	slices.SortFunc(p.ordered, func(a, b *Rules) int {
		if c := len(b.key) - len(a.key); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	return p, nil
}

const noEnvironments = "the policy has no environments (it needs an environments: mapping of environment names or globs to rules)"

// newRules checks one entry of the file; at are the lines of its parts.
func newRules(file, key string, rf rulesFile, at entryLines) (*Rules, error) {
	where := "environments[" + strconv.Quote(key) + "]"
	fail := func(line int, format string, args ...any) error {
		if line == 0 {
			line = at.line
		}
		return &Error{File: file, Line: line, Msg: where + fmt.Sprintf(format, args...)}
	}
	if key == "" {
		return nil, fail(0, ": an empty environment name")
	}
	if _, err := path.Match(key, ""); err != nil {
		return nil, fail(0, ": not an environment name or glob (%v)", err)
	}
	r := &Rules{file: file, key: key, lookup: rf.Lookup}
	for i, ns := range rf.Namespaces {
		switch _, err := path.Match(ns, ""); {
		case ns == "":
			return nil, fail(at.item("namespaces", i), ".namespaces: an empty entry")
		case err != nil:
			return nil, fail(at.item("namespaces", i), ".namespaces: %s is not a namespace or glob (%v)", quote(ns), err)
		case !strings.ContainsAny(ns, `*?[\`) && !label.MatchString(ns):
			return nil, fail(at.item("namespaces", i), ".namespaces: %s is not a namespace (at most 63 lowercase letters, digits and '-')", quote(ns))
		}
		r.namespaces = append(r.namespaces, ns)
	}
	for i, s := range rf.ClusterScoped {
		k := kindRule{text: s, kind: s}
		if s != "*" {
			if dot := strings.IndexByte(s, '.'); dot >= 0 {
				k.kind, k.group, k.qualified = s[:dot], s[dot+1:], true
			}
			if !kindName.MatchString(k.kind) || (k.qualified && !group.MatchString(k.group)) {
				return nil, fail(at.item("clusterScoped", i), ".clusterScoped: %s is not \"*\", Kind or Kind.group (Namespace, ClusterRole.rbac.authorization.k8s.io)", quote(s))
			}
		}
		r.clusterScoped = append(r.clusterScoped, k)
	}
	for i, c := range rf.Clusters {
		line := at.item("clusters", i)
		switch {
		case c.Context == "" && c.Kubeconfig == "" && c.KubeconfigSecret == nil:
			return nil, fail(line, ".clusters[%d]: an entry that sets nothing (set context, kubeconfig or kubeconfigSecret)", i)
		case c.Kubeconfig != "" && c.KubeconfigSecret != nil:
			return nil, fail(line, ".clusters[%d]: kubeconfig and kubeconfigSecret are two kubeconfigs (one entry names one; add another entry)", i)
		case c.KubeconfigSecret != nil && c.KubeconfigSecret.Name == "":
			return nil, fail(line, ".clusters[%d]: kubeconfigSecret without a name", i)
		}
		if c.Kubeconfig != "" {
			c.Kubeconfig = filepath.Clean(c.Kubeconfig)
		}
		r.clusters = append(r.clusters, c)
	}
	return r, nil
}

// matches tells whether the entry allows ref: every field the entry sets
// equals ref's, and both name the same kubeconfig: the entry's kubeconfig
// file, its Secret, or, when it names neither, the operator's (so that an
// entry `context: dev` does not allow context dev of any kubeconfig).
func (e clusterEntry) matches(ref manifest.ClusterRef) bool {
	if e.Context != "" && e.Context != ref.Context {
		return false
	}
	switch s := ref.KubeconfigSecret; {
	case e.Kubeconfig != "":
		return s == nil && ref.Kubeconfig != "" && filepath.Clean(ref.Kubeconfig) == e.Kubeconfig
	case e.KubeconfigSecret != nil:
		es := e.KubeconfigSecret
		return s != nil && ref.Kubeconfig == "" && s.Namespace == es.Namespace && s.Name == es.Name && (es.Key == "" || es.Key == s.Key)
	default:
		return s == nil && ref.Kubeconfig == ""
	}
}

// entryLines are the lines of one entry of environments: the key's, and
// each list item's.
type entryLines struct {
	line  int
	items map[string][]int
}

// item is the line of item i of the list field, else the entry's.
func (e entryLines) item(field string, i int) int {
	if l := e.items[field]; i < len(l) {
		return l[i]
	}
	return e.line
}

// linesOf recovers the lines the struct decode drops: best effort (an
// entry whose lines it cannot tell reports line 0 or its key's line).
func linesOf(data []byte) map[string]entryLines {
	out := map[string]entryLines{}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return out
	}
	envs := mappingValue(&root, "environments")
	if envs == nil || envs.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(envs.Content); i += 2 {
		var key string
		if envs.Content[i].Decode(&key) != nil || envs.Content[i].ShortTag() == "!!merge" {
			continue
		}
		e := entryLines{line: envs.Content[i].Line, items: map[string][]int{}}
		for _, field := range []string{"namespaces", "clusterScoped", "clusters"} {
			if seq := mappingValue(envs.Content[i+1], field); seq != nil && seq.Kind == yaml.SequenceNode {
				for _, n := range seq.Content {
					e.items[field] = append(e.items[field], n.Line)
				}
			}
		}
		out[key] = e
	}
	return out
}

// mappingValue is the value of key in the mapping n (through the document
// and aliases), or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	return yamlnode.Options{Aliases: true}.Value(n, key)
}

var (
	yamlLine     = regexp.MustCompile(`^line (\d+): `)
	unknownField = regexp.MustCompile(`^field (.*) not found in type (\S+)$`)
	// fieldsOf are the fields of each decoded type, for unknown-field errors.
	fieldsOf = func() map[string]string {
		m := map[string]string{}
		for _, v := range []any{file{}, rulesFile{}, clusterEntry{}, secretEntry{}} {
			t := reflect.TypeOf(v)
			var names []string
			for i := range t.NumField() {
				names = append(names, t.Field(i).Tag.Get("yaml"))
			}
			if len(names) > 1 {
				m[t.String()] = strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
			} else {
				m[t.String()] = names[0]
			}
		}
		return m
	}()
)

// typeNames are the decoded types as type errors name them.
var typeNames = map[string]string{
	"policy.file":                 "a mapping",
	"map[string]policy.rulesFile": "a mapping of environments to rules",
	"policy.rulesFile":            "a mapping of rules",
	"[]string":                    "a list",
	"[]policy.clusterEntry":       "a list of clusters",
	"policy.clusterEntry":         "a mapping",
	"policy.secretEntry":          "a mapping",
	"bool":                        "a bool (true or false)",
	"string":                      "a string",
}

// yamlError turns a yaml.v3 error into an Error with the line of its first
// fault.
func yamlError(file string, err error) error {
	msgs := []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msgs = slices.Clone(te.Errors)
	}
	line := 0
	for i, m := range msgs {
		prefix := ""
		if l := yamlLine.FindStringSubmatch(m); l != nil {
			m = m[len(l[0]):]
			if i == 0 {
				line, _ = strconv.Atoi(l[1])
			} else {
				prefix = "line " + l[1] + ": "
			}
		}
		if f := unknownField.FindStringSubmatch(m); f != nil {
			m = "unknown field " + strconv.Quote(f[1])
			if want, ok := fieldsOf[f[2]]; ok {
				m += " (want " + want + ")"
			}
		} else if i := strings.LastIndex(m, " into "); te != nil && i >= 0 {
			if want, ok := typeNames[m[i+len(" into "):]]; ok {
				m = m[:i] + " into " + want
			}
		} else if te == nil {
			m = "invalid YAML: " + m
		}
		msgs[i] = prefix + m
	}
	return &Error{File: file, Line: line, Msg: strings.Join(msgs, "; ")}
}
