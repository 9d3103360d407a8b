package reconciler

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"text/template/parse"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	"github.com/digitops/digitops/reconciler/kube"
)

// LookupCalls returns where a release calls Helm's `lookup`, which reads
// live objects when Helm installs or upgrades it: the templates of c that
// call it (a subchart's as charts/<name>/templates/…), and "values" when a
// value is a template that does (rendered with `tpl`). It returns nil for
// a chart that reads nothing live.
func LookupCalls(c *chart.Chart, values map[string]any) []string {
	lookup := funcs{"lookup"}
	out := chartCalls(c, "", lookup, false)
	if valuesCall(values, 0, lookup) {
		out = append(out, "values")
	}
	return out
}

// funcs are names of template functions.
type funcs []string

// has reports whether name is one of fs.
func (fs funcs) has(name string) bool { return slices.Contains(fs, name) }

// named reports whether text names one of fs (a cheap test before a
// parse: a call must name its function).
func (fs funcs) named(text string) bool {
	return slices.ContainsFunc(fs, func(f string) bool { return strings.Contains(text, f) })
}

// chartCalls are the templates of c and its subcharts that call one of
// fn, each named under prefix; with first, only the first one found.
func chartCalls(c *chart.Chart, prefix string, fn funcs, first bool) []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, t := range c.Templates {
		if templateCalls(t.Name, string(t.Data), fn) {
			out = append(out, prefix+t.Name)
			if first {
				return out
			}
		}
	}
	for _, d := range c.Dependencies() {
		out = append(out, chartCalls(d, prefix+"charts/"+d.Name()+"/", fn, first)...)
		if first && len(out) > 0 {
			return out
		}
	}
	return out
}

// templateCalls reports whether a Go template calls one of fn. A
// template that does not parse is taken to call one when it names one
// (Helm refuses to render it anyway).
func templateCalls(name, text string, fn funcs) bool {
	if !strings.Contains(text, "{{") || !fn.named(text) {
		return false
	}
	return templateAny(name, text, fn.called)
}

// called reports whether n is an identifier of one of fs (a call).
func (fs funcs) called(n parse.Node) bool {
	id, ok := n.(*parse.IdentifierNode)
	return ok && fs.has(id.Ident)
}

// templateAny reports whether found holds for a node of a Go template
// (its defines included); true for a template that does not parse.
func templateAny(name, text string, found func(parse.Node) bool) bool {
	trees, err := parseTemplate(name, text)
	return err != nil || treesHold(trees, found)
}

// parseTemplate parses a Go template with Helm's delimiters, without
// checking function names: the template named name and its defines.
func parseTemplate(name, text string) (map[string]*parse.Tree, error) {
	t := parse.New(name)
	t.Mode = parse.SkipFuncCheck
	trees := map[string]*parse.Tree{}
	_, err := t.Parse(text, "{{", "}}", trees)
	return trees, err
}

// treesHold reports whether found holds for a node of one of trees.
func treesHold(trees map[string]*parse.Tree, found func(parse.Node) bool) bool {
	for _, tree := range trees {
		if tree.Root != nil && anyNode(tree.Root, found) {
			return true
		}
	}
	return false
}

// anyNode reports whether found holds for n or a node under it, walking
// the actions and their pipelines, commands and arguments.
func anyNode(n parse.Node, found func(parse.Node) bool) bool {
	if found(n) {
		return true
	}
	walk := func(n parse.Node) bool { return anyNode(n, found) }
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return false
		}
		return slices.ContainsFunc(n.Nodes, walk)
	case *parse.ActionNode:
		return walk(n.Pipe)
	case *parse.PipeNode:
		if n == nil {
			return false
		}
		return slices.ContainsFunc(n.Cmds, func(c *parse.CommandNode) bool { return walk(c) })
	case *parse.CommandNode:
		return slices.ContainsFunc(n.Args, walk)
	case *parse.ChainNode:
		return walk(n.Node)
	case *parse.IfNode:
		return anyInBranch(&n.BranchNode, found)
	case *parse.RangeNode:
		return anyInBranch(&n.BranchNode, found)
	case *parse.WithNode:
		return anyInBranch(&n.BranchNode, found)
	case *parse.TemplateNode:
		return walk(n.Pipe)
	}
	return false
}

func anyInBranch(b *parse.BranchNode, found func(parse.Node) bool) bool {
	return anyNode(b.Pipe, found) || anyNode(b.List, found) || anyNode(b.ElseList, found)
}

// maxValuesDepth bounds the walk of valuesCall (values are bounded in
// depth when read: see internal/yamldepth).
const maxValuesDepth = 1000

// valuesCall reports whether a string of values is a template that calls
// one of fn.
func valuesCall(v any, depth int, fn funcs) bool {
	return valuesHold(v, depth, func(s string) bool { return templateCalls("values", s, fn) })
}

// valuesHold reports whether found holds for a string of values.
func valuesHold(v any, depth int, found func(string) bool) bool {
	if depth > maxValuesDepth {
		return false
	}
	switch v := v.(type) {
	case string:
		return found(v)
	case map[string]any:
		for _, x := range v {
			if valuesHold(x, depth+1, found) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if valuesHold(x, depth+1, found) {
				return true
			}
		}
	}
	return false
}

// LiveReads records what a render's lookups read from the cluster: the
// objects, and the values of the Secrets among them, which every output
// masks. It is safe for concurrent use.
type LiveReads struct {
	mu      sync.Mutex
	objects []string
	secrets []string
}

// Objects are the objects read, as "resource namespace/name" (a LIST as
// "resource namespace/*"), in the order first read.
func (r *LiveReads) Objects() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.objects)
}

// SecretValues are the values of the Secrets read: each as the API
// serves it (base64) and decoded.
func (r *LiveReads) SecretValues() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.secrets)
}

func (r *LiveReads) add(object string, secrets []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.objects, object) {
		r.objects = append(r.objects, object)
	}
	for _, s := range secrets {
		if !slices.Contains(r.secrets, s) {
			r.secrets = append(r.secrets, s)
		}
	}
}

// lookupGetter is the RESTClientGetter a render with live lookups gives
// Helm: the cluster's, with a transport that records every object read.
type lookupGetter struct {
	config  *rest.Config
	cluster *kube.Cluster
}

var _ action.RESTClientGetter = lookupGetter{}

func newLookupGetter(c *kube.Cluster, reads *LiveReads) lookupGetter {
	cfg := rest.CopyConfig(c.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return readRecorder{next: rt, reads: reads} })
	return lookupGetter{config: cfg, cluster: c}
}

func (g lookupGetter) ToRESTConfig() (*rest.Config, error) { return g.config, nil }
func (g lookupGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.cluster.Discovery(), nil
}
func (g lookupGetter) ToRESTMapper() (meta.RESTMapper, error) { return g.cluster.Mapper(), nil }

// maxLookupSecretBody bounds the Secret (or list of Secrets) a lookup
// read that the recorder decodes; a bigger one fails the render.
const maxLookupSecretBody = 32 << 20

// readRecorder is a transport that records, in reads, every object a GET
// returned (discovery aside) and the values of Secrets.
type readRecorder struct {
	next  http.RoundTripper
	reads *LiveReads
}

func (t readRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	resource, object, ok := readObject(req.URL.Path)
	if !ok {
		return resp, nil
	}
	if resource != "secrets" {
		t.reads.add(object, nil)
		return resp, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxLookupSecretBody+1))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if len(body) > maxLookupSecretBody {
		return nil, fmt.Errorf("lookup of %s: response over %d bytes", object, maxLookupSecretBody)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	t.reads.add(object, secretValuesOf(body))
	return resp, nil
}

// readObject names the object a GET of an API path reads, "resource
// namespace/name" (a LIST: name "*"), or false for discovery.
func readObject(p string) (resource, object string, ok bool) {
	segs := strings.Split(strings.Trim(path.Clean(p), "/"), "/")
	var rest []string
	switch {
	case len(segs) >= 2 && segs[0] == "api":
		rest = segs[2:]
	case len(segs) >= 3 && segs[0] == "apis":
		rest = segs[3:]
	}
	namespace := ""
	if len(rest) >= 3 && rest[0] == "namespaces" {
		namespace, rest = rest[1], rest[2:]
	}
	if len(rest) == 0 {
		return "", "", false
	}
	name := "*"
	if len(rest) > 1 {
		name = rest[1]
	}
	if namespace != "" {
		name = namespace + "/" + name
	}
	return rest[0], rest[0] + " " + name, true
}

// secretValuesOf are the values of a Secret, or of the Secrets of a list,
// in the JSON the API serves: each base64 value and its decoding.
func secretValuesOf(body []byte) []string {
	type secret struct {
		Data       map[string]string `json:"data"`
		StringData map[string]string `json:"stringData"`
	}
	var doc struct {
		secret
		Items []secret `json:"items"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil
	}
	var out []string
	for _, s := range append(doc.Items, doc.secret) {
		for _, v := range s.Data {
			out = append(out, v)
			if d, err := base64.StdEncoding.DecodeString(v); err == nil {
				out = append(out, string(d))
			}
		}
		for _, v := range s.StringData {
			out = append(out, v)
		}
	}
	return out
}

// noteLookups sets Lookups on every install or upgrade whose chart calls
// Helm's lookup; offline, a plan note says that the render found nothing.
func (p *Planner) noteLookups(plan *Plan) {
	var offline []string
	for i := range plan.Steps {
		st := &plan.Steps[i]
		if (st.Action != ActionInstall && st.Action != ActionUpgrade) || st.chart == nil {
			continue
		}
		st.Lookups = LookupCalls(st.chart, st.Release.MergedValues())
		if err := lookupRefused(plan.policy, st.Lookups); err != nil {
			st.observe(Observation{Status: StatusInvalid, Reason: fmt.Sprintf("release %q: %v", st.Release.Name, err)}, "")
			continue
		}
		if len(st.Lookups) > 0 && p.Cluster == nil {
			offline = append(offline, st.Release.Name)
		}
	}
	if len(offline) > 0 {
		plan.Notes = append(plan.Notes, fmt.Sprintf("%s call Helm's lookup: an offline plan renders them as though no live object exists; Helm reads the cluster when it acts", strings.Join(offline, ", ")))
	}
}

// readLive records on the step what its render read: the objects, and
// the Secrets' values among the values every output of the step masks.
func (st *Step) readLive(reads *LiveReads) {
	st.LiveReads = reads.Objects()
	if v := reads.SecretValues(); len(v) > 0 {
		// The release's list may be shared with other steps.
		st.Release.SecretValues = slices.Concat(st.Release.SecretValues, v)
	}
}
