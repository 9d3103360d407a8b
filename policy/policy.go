package policy

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"

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
