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
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/digitops/digitops/internal/yamldepth"
	"github.com/digitops/digitops/internal/yamlnode"
	"github.com/digitops/digitops/source/manifest"
)

// MaxSize is the largest policy file Read and Parse accept (1 MiB).
const MaxSize = 1 << 20

// Policy is a parsed policy file: for each environment name or glob, the
// Rules that bound what the environment's releases may deploy. A nil
// *Policy is no policy.
type Policy struct {
	path string
	// exact are the entries by key; ordered holds every entry, longest key
	// first, ties in lexical order: the order For tries the globs in.
	exact   map[string]*Rules
	ordered []*Rules
}

// Rules are one entry of a policy. A nil *Rules allows everything.
type Rules struct {
	// file and key name the entry in messages.
	file, key     string
	namespaces    []string
	clusterScoped []kindRule
	clusters      []clusterEntry
	lookup        bool
}

// Object is one rendered object, as the rules see it.
type Object struct {
	// Group is the API group ("" for the core group), Kind the kind.
	Group, Kind string
	// Namespace is the object's namespace, already defaulted to the
	// release's for namespaced objects; Name is its name.
	Namespace, Name string
	// ClusterScoped tells the object has no namespace.
	ClusterScoped bool
}

// Error is a policy file that cannot be read or is not a valid policy.
type Error struct {
	// File is the policy file as the operator named it.
	File string
	// Line is the 1-based line at fault, or 0.
	Line int
	// Msg says what is wrong.
	Msg string
}

func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	return oneLine(s + ": " + e.Msg)
}

// RefusedError is something a policy does not allow.
type RefusedError struct {
	// What is what was refused: `Namespace "kube-system"`,
	// `ClusterRoleBinding/admin-all`, `cluster context "prod"`, `lookup`.
	What string
	// File is the policy file.
	File string
	// Rule is the rule that refuses it (`environments["*"].namespaces`),
	// empty when no entry of the policy matches the environment.
	Rule string
	// Reason is what the rule allows ("allows egov, digit-*", "is false").
	Reason string
}

func (e *RefusedError) Error() string {
	if e.Rule == "" {
		return oneLine(fmt.Sprintf("%s is not allowed: policy %s %s", e.What, e.File, e.Reason))
	}
	return oneLine(fmt.Sprintf("%s is not allowed: policy %s, %s %s", e.What, e.File, e.Rule, e.Reason))
}

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

// Path is the file the policy was read from.
func (p *Policy) Path() string {
	if p == nil {
		return ""
	}
	return p.path
}

// For returns the rules for an environment: the entry whose key is its
// name, else the longest glob that matches it (ties: the first in lexical
// order). No entry is an error: nothing of the environment may be
// deployed. A nil *Policy returns nil rules, which allow everything.
func (p *Policy) For(environment string) (*Rules, error) {
	if p == nil {
		return nil, nil
	}
	if r, ok := p.exact[environment]; ok {
		return r, nil
	}
	for _, r := range p.ordered {
		if ok, _ := path.Match(r.key, environment); ok {
			return r, nil
		}
	}
	keys := make([]string, 0, len(p.ordered))
	for _, r := range p.ordered {
		keys = append(keys, show(r.key))
	}
	slices.Sort(keys)
	return nil, &RefusedError{
		What:   "environment " + quote(environment),
		File:   p.path,
		Reason: fmt.Sprintf("has no entry for it (environments: %s)", list(keys)),
	}
}

// Namespace returns nil when a release may be installed in namespace ns.
func (r *Rules) Namespace(ns string) error {
	if r == nil || r.namespaceAllowed(ns) {
		return nil
	}
	return r.refuse("Namespace "+quote(ns), "namespaces", r.namespaces)
}

// Object returns nil when the rules allow a rendered object: a namespaced
// object in an allowed namespace, a cluster-scoped one of an allowed kind;
// a Namespace needs both, its own name being the namespace.
func (r *Rules) Object(o Object) error {
	if r == nil {
		return nil
	}
	if !o.ClusterScoped {
		if r.namespaceAllowed(o.Namespace) {
			return nil
		}
		return r.refuse(objectName(o, false), "namespaces", r.namespaces)
	}
	if !r.kindAllowed(o.Group, o.Kind) {
		// Name the group when the kind is allowed in another.
		qualify := slices.ContainsFunc(r.clusterScoped, func(k kindRule) bool { return k.kind == o.Kind })
		return r.refuse(objectName(o, qualify), "clusterScoped", r.kindTexts())
	}
	if o.Group == "" && o.Kind == "Namespace" && !r.namespaceAllowed(o.Name) {
		return r.refuse(objectName(o, false), "namespaces", r.namespaces)
	}
	return nil
}

// Cluster returns nil when the rules allow the cluster c, as the command
// connects to it: after the operator's --kubeconfig and --context, and
// without KubeconfigSecret where the command does not read it. The
// operator's own cluster (an empty ClusterRef) is always allowed; any other
// must match an entry of clusters.
func (r *Rules) Cluster(c manifest.ClusterRef) error {
	if r == nil || (c.Context == "" && c.Kubeconfig == "" && c.KubeconfigSecret == nil) {
		return nil
	}
	for _, e := range r.clusters {
		if e.matches(c) {
			return nil
		}
	}
	allowed := make([]string, len(r.clusters))
	for i, e := range r.clusters {
		allowed[i] = e.String()
	}
	return r.refuse("cluster "+describeRef(c), "clusters", allowed)
}

// Lookup returns nil when charts may call Helm's lookup function.
func (r *Rules) Lookup() error {
	if r == nil || r.lookup {
		return nil
	}
	return &RefusedError{What: "lookup", File: r.file, Rule: r.rule("lookup"), Reason: "is false"}
}

func (r *Rules) rule(field string) string {
	return "environments[" + strconv.Quote(r.key) + "]." + field
}

func (r *Rules) refuse(what, field string, allowed []string) error {
	return &RefusedError{What: what, File: r.file, Rule: r.rule(field), Reason: "allows " + list(allowed)}
}

func (r *Rules) namespaceAllowed(ns string) bool {
	for _, p := range r.namespaces {
		if ok, _ := path.Match(p, ns); ok {
			return true
		}
	}
	return false
}

func (r *Rules) kindAllowed(group, kind string) bool {
	for _, k := range r.clusterScoped {
		if k.text == "*" || (k.kind == kind && (!k.qualified || k.group == group)) {
			return true
		}
	}
	return false
}

func (r *Rules) kindTexts() []string {
	out := make([]string, len(r.clusterScoped))
	for i, k := range r.clusterScoped {
		out[i] = k.text
	}
	return out
}

// kindRule is one entry of clusterScoped: "*", Kind (any group) or
// Kind.group (that group only).
type kindRule struct {
	text, kind, group string
	qualified         bool
}

var (
	// label is a namespace (a DNS-1123 label).
	label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	// kindName is a Kubernetes kind; group an API group (a DNS subdomain).
	kindName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)
	group    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

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

// String is the entry as messages list it: "context dev",
// "kubeconfigSecret digitops/dev key value".
func (e clusterEntry) String() string {
	ref := manifest.ClusterRef{Context: e.Context, Kubeconfig: e.Kubeconfig}
	if s := e.KubeconfigSecret; s != nil {
		ref.KubeconfigSecret = &manifest.SecretKeyRef{Namespace: s.Namespace, Name: s.Name, Key: s.Key}
	}
	return describeCluster(ref, show)
}

// describeRef is a cluster as messages name it: `context "prod"`.
func describeRef(c manifest.ClusterRef) string { return describeCluster(c, quote) }

// describeCluster names a cluster's fields, each value as text gives it.
func describeCluster(c manifest.ClusterRef, text func(string) string) string {
	var parts []string
	if c.Kubeconfig != "" {
		parts = append(parts, "kubeconfig "+text(c.Kubeconfig))
	}
	if s := c.KubeconfigSecret; s != nil {
		parts = append(parts, "kubeconfigSecret "+text(secretName(s.Namespace, s.Name)))
		if s.Key != "" {
			parts = append(parts, "key "+text(s.Key))
		}
	}
	if c.Context != "" {
		parts = append(parts, "context "+text(c.Context))
	}
	return strings.Join(parts, " ")
}

func secretName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// objectName is Kind/name for a cluster-scoped object and Kind
// namespace/name for a namespaced one; qualify adds the group to the kind.
func objectName(o Object, qualify bool) string {
	kind := show(o.Kind)
	if qualify && o.Group != "" {
		kind = show(o.Kind + "." + o.Group)
	}
	switch {
	case o.ClusterScoped:
		return kind + "/" + show(o.Name)
	case o.Namespace == "":
		return kind + " " + show(o.Name) + " (no namespace)"
	}
	return kind + " " + show(o.Namespace) + "/" + show(o.Name)
}

// maxShown bounds a name in a message.
const maxShown = 253

// show is s as it is when it reads plainly in a message, else quoted
// (empty, spaces, quotes, commas, control characters) and cut to maxShown
// bytes.
func show(s string) string {
	plain := func(r rune) bool {
		return r != utf8.RuneError && unicode.IsGraphic(r) && !unicode.IsSpace(r) && !strings.ContainsRune(`"\,`, r)
	}
	if s != "" && len(s) <= maxShown && !strings.ContainsFunc(s, func(r rune) bool { return !plain(r) }) {
		return s
	}
	return quote(s)
}

// quote is s quoted, cut to maxShown bytes.
func quote(s string) string {
	if len(s) > maxShown {
		s = strings.ToValidUTF8(s[:maxShown-3], "") + "..."
	}
	return strconv.Quote(s)
}

// list is "a, b, c", at most 5 items then "and N more"; "none" when empty.
func list(items []string) string {
	const max = 5
	switch {
	case len(items) == 0:
		return "none"
	case len(items) <= max:
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:max], ", "), len(items)-max)
}

// oneLine escapes line breaks, so that every error is one line.
func oneLine(s string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}

// ClusterScopedKind tells whether a built-in kind of Kubernetes 1.37 is
// cluster-scoped, for when no cluster can be asked: known is false for a
// kind it does not know (a custom resource).
func ClusterScopedKind(group, kind string) (scoped, known bool) {
	scoped, known = builtin[groupKind{group, kind}]
	return scoped, known
}

type groupKind struct{ group, kind string }

// builtin are the scopes of Kubernetes' own kinds (k8s.io/api v0.37, its
// +genclient:nonNamespaced types; apiextensions and kube-aggregator for
// CustomResourceDefinition and APIService), and of the common namespaced
// ones.
var builtin = func() map[groupKind]bool {
	m := map[groupKind]bool{}
	add := func(scoped bool, group string, kinds ...string) {
		for _, k := range kinds {
			m[groupKind{group, k}] = scoped
		}
	}
	// Cluster-scoped.
	add(true, "", "Namespace", "Node", "PersistentVolume", "ComponentStatus")
	add(true, "rbac.authorization.k8s.io", "ClusterRole", "ClusterRoleBinding")
	add(true, "storage.k8s.io", "StorageClass", "CSIDriver", "CSINode", "VolumeAttachment", "VolumeAttributesClass")
	add(true, "apiextensions.k8s.io", "CustomResourceDefinition")
	add(true, "apiregistration.k8s.io", "APIService")
	add(true, "scheduling.k8s.io", "PriorityClass")
	add(true, "node.k8s.io", "RuntimeClass")
	add(true, "networking.k8s.io", "IngressClass", "IPAddress", "ServiceCIDR")
	add(true, "admissionregistration.k8s.io",
		"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
		"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
		"MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding")
	add(true, "flowcontrol.apiserver.k8s.io", "FlowSchema", "PriorityLevelConfiguration")
	add(true, "certificates.k8s.io", "CertificateSigningRequest", "ClusterTrustBundle")
	add(true, "resource.k8s.io", "DeviceClass", "ResourceSlice", "DeviceTaintRule", "ResourcePoolStatusRequest")
	add(true, "internal.apiserver.k8s.io", "StorageVersion")
	add(true, "storagemigration.k8s.io", "StorageVersionMigration")
	add(true, "authentication.k8s.io", "TokenReview", "SelfSubjectReview")
	add(true, "authorization.k8s.io", "SubjectAccessReview", "SelfSubjectAccessReview", "SelfSubjectRulesReview")
	// Namespaced.
	add(false, "", "Pod", "Service", "ConfigMap", "Secret", "ServiceAccount", "PersistentVolumeClaim",
		"Endpoints", "LimitRange", "ResourceQuota", "Event")
	add(false, "apps", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
	add(false, "batch", "Job", "CronJob")
	add(false, "networking.k8s.io", "Ingress", "NetworkPolicy")
	add(false, "rbac.authorization.k8s.io", "Role", "RoleBinding")
	add(false, "autoscaling", "HorizontalPodAutoscaler")
	add(false, "policy", "PodDisruptionBudget")
	add(false, "discovery.k8s.io", "EndpointSlice")
	add(false, "coordination.k8s.io", "Lease")
	add(false, "events.k8s.io", "Event")
	return m
}()

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
