package reconciler

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/reconciler/kube"
)

// This file decides, purely, what a release's new render changes against
// its deployed manifest (the render-aware half of a sync): which fields
// render differently on every run and keep their deployed value, which
// workloads restart and why, and whether anything is left to upgrade. The
// planner feeds it (compareDeployed); nothing here reads or writes the
// cluster.

// Restart is one workload whose pods an upgrade replaces, and why.
type Restart struct {
	// Workload is the workload, Kind/namespace/name.
	Workload string `json:"workload"`
	// Why says what moved it: its pod template, or a ConfigMap or Secret it
	// reads, with the keys that changed.
	Why string `json:"why"`
}

// String is "restarts Deployment/egov/egov-user: ConfigMap egov/egov-config data.timezone changed".
func (r Restart) String() string { return "restarts " + r.Workload + ": " + r.Why }

// podTemplatePaths are, by workload kind, the JSON pointer of its pod
// template: a change under it replaces the pods.
var podTemplatePaths = map[string]string{
	"Deployment":  "/spec/template",
	"StatefulSet": "/spec/template",
	"DaemonSet":   "/spec/template",
	"ReplicaSet":  "/spec/template",
	"Job":         "/spec/template",
	"CronJob":     "/spec/jobTemplate/spec/template",
}

// podTemplatePath is the pod template of a workload object, "" for other
// kinds.
func podTemplatePath(u *unstructured.Unstructured) string {
	switch group, _, _ := strings.Cut(u.GetAPIVersion(), "/"); group {
	case "apps", "batch", "extensions":
		return podTemplatePaths[u.GetKind()]
	}
	return ""
}

// under reports whether JSON pointer p is prefix or below it.
func under(p, prefix string) bool {
	return prefix != "" && (p == prefix || strings.HasPrefix(p, prefix+"/"))
}

// releaseRender is one release's deployed objects and new render, by
// object name (renderedName), for the comparison.
type releaseRender struct {
	// namespace is the release namespace (objects without one are in it).
	namespace string
	// deployed are the objects of the deployed revision's manifest.
	deployed map[string]*unstructured.Unstructured
	// rendered are the objects of the new render, in render order (names
	// in order).
	rendered map[string]*unstructured.Unstructured
	order    []string
	// volatile are, by object, the JSON pointers that render differently
	// on every run (found by rendering twice); nil when not probed.
	volatile map[string][]string
}

// newReleaseRender parses a release's deployed and rendered objects, and
// puts each list of the render that holds the same items as the deployed
// one in the deployed order (a list a chart emits in random order is not
// a change).
func newReleaseRender(namespace string, deployed, rendered []*unstructured.Unstructured) *releaseRender {
	r := &releaseRender{namespace: namespace, deployed: map[string]*unstructured.Unstructured{}, rendered: map[string]*unstructured.Unstructured{}}
	for _, o := range deployed {
		r.deployed[renderedName(o, namespace)] = o
	}
	for _, o := range rendered {
		name := renderedName(o, namespace)
		if _, dup := r.rendered[name]; !dup {
			r.order = append(r.order, name)
		}
		o = o.DeepCopy()
		if d, ok := r.deployed[name]; ok {
			o.Object = alignLists(o.Object, d.Object).(map[string]any)
		}
		r.rendered[name] = o
	}
	return r
}

// alignLists returns rendered with every list that is a permutation of the
// list at the same place in deployed replaced by deployed's order; lists of
// maps with a name are matched by name below that, so that a nested list
// gets the same treatment. It writes into rendered (a copy).
func alignLists(rendered, deployed any) any {
	switch r := rendered.(type) {
	case map[string]any:
		d, ok := deployed.(map[string]any)
		if !ok {
			return rendered
		}
		for k, v := range r {
			if dv, ok := d[k]; ok {
				r[k] = alignLists(v, dv)
			}
		}
		return r
	case []any:
		d, ok := deployed.([]any)
		if !ok {
			return rendered
		}
		if len(r) == len(d) && len(r) <= maxAlignedList && isPermutation(r, d) {
			return runtimeCopy(d)
		}
		for i, item := range r {
			m, ok := item.(map[string]any)
			if !ok {
				if i < len(d) {
					r[i] = alignLists(item, d[i])
				}
				continue
			}
			if j := indexByName(d, m["name"]); j >= 0 {
				r[i] = alignLists(item, d[j])
			} else if i < len(d) {
				r[i] = alignLists(item, d[i])
			}
		}
		return r
	}
	return rendered
}

// maxAlignedList bounds the lists alignLists compares item by item
// (quadratic).
const maxAlignedList = 512

// isPermutation reports whether a and b hold the same items (deep equal),
// each as many times, in any order.
func isPermutation(a, b []any) bool {
	taken := make([]bool, len(b))
	for _, x := range a {
		found := false
		for j, y := range b {
			if !taken[j] && sameValue(x, y) {
				taken[j], found = true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// indexByName finds the map item of list whose "name" is name; -1 when
// none (or name is nil).
func indexByName(list []any, name any) int {
	if name == nil {
		return -1
	}
	for i, item := range list {
		if m, ok := item.(map[string]any); ok && reflect.DeepEqual(m["name"], name) {
			return i
		}
	}
	return -1
}

// differences are the JSON pointers where the render and the deployed
// objects differ, by object; an object only one side has is listed with
// the path "" (CRDs aside: Helm's manifest never has them).
func (r *releaseRender) differences() map[string][]string {
	out := map[string][]string{}
	for _, name := range r.order {
		o := r.rendered[name]
		d, ok := r.deployed[name]
		if !ok {
			if o.GetKind() != "CustomResourceDefinition" {
				out[name] = []string{""}
			}
			continue
		}
		seen := map[string]bool{}
		for _, p := range append(drift.DiffRendered(o, d), drift.DiffRendered(d, o)...) {
			if !seen[p] {
				seen[p] = true
				out[name] = append(out[name], p)
			}
		}
	}
	for name := range r.deployed {
		if _, ok := r.rendered[name]; !ok {
			out[name] = []string{""}
		}
	}
	return out
}

// isVolatile reports whether path of object name renders differently on
// every run.
func (r *releaseRender) isVolatile(name, path string) bool {
	for _, v := range r.volatile[name] {
		if path == v || under(path, v) {
			return true
		}
	}
	return false
}

// configChange is what changed in one ConfigMap or Secret: the keys of its
// data (data.KEY, binaryData.KEY), or "" when it was created or deleted.
type configChange struct {
	// keys are the changed keys, sorted.
	keys []string
}

func (c configChange) String() string {
	if len(c.keys) == 0 {
		return "changed"
	}
	shown := c.keys
	more := ""
	if len(shown) > 3 {
		more = fmt.Sprintf(" and %d more", len(shown)-3)
		shown = shown[:3]
	}
	return strings.Join(shown, ", ") + more + " changed"
}

// configChanges are the ConfigMaps and Secrets whose content the render
// changes (volatile fields aside), by "Kind/namespace/name".
func (r *releaseRender) configChanges(diffs map[string][]string) map[string]configChange {
	out := map[string]configChange{}
	for name, paths := range diffs {
		kind, _, _ := strings.Cut(name, "/")
		if kind != "ConfigMap" && kind != "Secret" {
			continue
		}
		var keys []string
		whole := false
		for _, p := range paths {
			if p == "" {
				whole = true
				continue
			}
			if r.isVolatile(name, p) {
				continue
			}
			switch toks := drift.PointerTokens(p); toks[0] {
			case "data", "stringData", "binaryData":
				key := "data"
				if toks[0] == "binaryData" {
					key = "binaryData"
				}
				if len(toks) > 1 {
					key += "." + toks[1]
				}
				keys = append(keys, key)
			}
			// Anything else is metadata: nothing a pod reads.
		}
		if whole || len(keys) > 0 {
			sort.Strings(keys)
			out[name] = configChange{keys: slices.Compact(keys)}
		}
	}
	return out
}

// readsConfigs returns the ConfigMaps and Secrets a pod template reads
// (env valueFrom, envFrom, volumes and projected volumes), as
// "Kind/namespace/name", or "Kind/namespace/name#key" where a pod reads one
// key alone (env valueFrom).
func readsConfigs(podTemplate map[string]any, namespace string) []string {
	var out []string
	add := func(kind string, name any) {
		if s, ok := name.(string); ok && s != "" {
			ref := kind + "/" + namespace + "/" + s
			if !slices.Contains(out, ref) {
				out = append(out, ref)
			}
		}
	}
	addKey := func(kind string, ref map[string]any) {
		key, _ := ref["key"].(string)
		if name, ok := ref["name"].(string); ok && name != "" && key != "" {
			ref := kind + "/" + namespace + "/" + name + "#" + key
			if !slices.Contains(out, ref) {
				out = append(out, ref)
			}
			return
		}
		add(kind, ref["name"])
	}
	spec, _ := podTemplate["spec"].(map[string]any)
	for _, field := range []string{"initContainers", "containers", "ephemeralContainers"} {
		containers, _ := spec[field].([]any)
		for _, c := range containers {
			cm, _ := c.(map[string]any)
			envs, _ := cm["env"].([]any)
			for _, e := range envs {
				em, _ := e.(map[string]any)
				vf, _ := em["valueFrom"].(map[string]any)
				if ref, ok := vf["configMapKeyRef"].(map[string]any); ok {
					addKey("ConfigMap", ref)
				}
				if ref, ok := vf["secretKeyRef"].(map[string]any); ok {
					addKey("Secret", ref)
				}
			}
			from, _ := cm["envFrom"].([]any)
			for _, f := range from {
				fm, _ := f.(map[string]any)
				if ref, ok := fm["configMapRef"].(map[string]any); ok {
					add("ConfigMap", ref["name"])
				}
				if ref, ok := fm["secretRef"].(map[string]any); ok {
					add("Secret", ref["name"])
				}
			}
		}
	}
	volumes, _ := spec["volumes"].([]any)
	for _, v := range volumes {
		vm, _ := v.(map[string]any)
		if ref, ok := vm["configMap"].(map[string]any); ok {
			add("ConfigMap", ref["name"])
		}
		if ref, ok := vm["secret"].(map[string]any); ok {
			add("Secret", ref["secretName"])
		}
		projected, _ := vm["projected"].(map[string]any)
		sources, _ := projected["sources"].([]any)
		for _, s := range sources {
			sm, _ := s.(map[string]any)
			if ref, ok := sm["configMap"].(map[string]any); ok {
				add("ConfigMap", ref["name"])
			}
			if ref, ok := sm["secret"].(map[string]any); ok {
				add("Secret", ref["name"])
			}
		}
	}
	return out
}

// renderVerdict is what the comparison decided for one release.
type renderVerdict struct {
	// unchanged is set when the render, with its volatile fields kept,
	// equals the deployed manifest: nothing to upgrade.
	unchanged bool
	// kept lists, by object, the volatile fields given their deployed
	// value back.
	kept map[string]map[string]any
	// restarts are the workloads whose pods the upgrade replaces.
	restarts []Restart
}

// decide keeps the deployed value of every volatile field of the render,
// except in the pod template of a workload that restarts: one whose pod
// template changes otherwise, or that reads a ConfigMap or Secret in
// changed (of any release of the environment). It writes the kept values
// into the render's objects.
func (r *releaseRender) decide(diffs map[string][]string, changed map[string]configChange) renderVerdict {
	v := renderVerdict{kept: map[string]map[string]any{}}
	for _, name := range r.order {
		o, d := r.rendered[name], r.deployed[name]
		if d == nil {
			continue
		}
		tpl := podTemplatePath(o)
		why, templateChanged := "", false
		if tpl != "" {
			why, templateChanged = r.restartReason(name, tpl, diffs[name], changed)
		}
		moves := why != "" && slices.ContainsFunc(r.volatile[name], func(p string) bool { return under(p, tpl) })
		if templateChanged || moves {
			v.restarts = append(v.restarts, Restart{Workload: name, Why: why})
		}
		for _, p := range r.volatile[name] {
			if why != "" && under(p, tpl) {
				continue
			}
			val, found := drift.PointerGet(d.Object, p)
			if !found || !drift.PointerSet(o.Object, p, runtimeCopy(val)) {
				continue
			}
			if v.kept[name] == nil {
				v.kept[name] = map[string]any{}
			}
			v.kept[name][p] = val
		}
	}
	v.unchanged = true
	for _, paths := range r.differences() {
		if len(paths) > 0 {
			v.unchanged = false
			break
		}
	}
	return v
}

// restartReason says why a workload's pods restart: its pod template
// changes (its volatile fields aside: templateChanged), or it reads a
// ConfigMap or Secret that changes; "" when neither.
func (r *releaseRender) restartReason(name, tpl string, diffs []string, changed map[string]configChange) (why string, templateChanged bool) {
	for _, p := range diffs {
		if under(p, tpl) && !r.isVolatile(name, p) {
			return "its pod template changed at " + p, true
		}
	}
	pod, ok := drift.PointerGet(r.rendered[name].Object, tpl)
	podMap, _ := pod.(map[string]any)
	if !ok || podMap == nil {
		return "", false
	}
	ns := r.rendered[name].GetNamespace()
	if ns == "" {
		ns = r.namespace
	}
	var whys []string
	seen := map[string]bool{}
	for _, read := range readsConfigs(podMap, ns) {
		ref, key, _ := strings.Cut(read, "#")
		if c, ok := changed[ref]; ok && c.touches(key) && !seen[ref] {
			seen[ref] = true
			kind, rest, _ := strings.Cut(ref, "/")
			whys = append(whys, fmt.Sprintf("%s %s %s", kind, rest, c))
		}
	}
	return strings.Join(whys, "; "), false
}

// touches reports whether the change moves key ("" for the whole object):
// a created or deleted object moves every key.
func (c configChange) touches(key string) bool {
	if key == "" || len(c.keys) == 0 {
		return true
	}
	return slices.Contains(c.keys, "data."+key) || slices.Contains(c.keys, "binaryData."+key)
}

// runtimeCopy deep-copies a JSON value, so that the render and the
// deployed object share nothing.
func runtimeCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = runtimeCopy(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = runtimeCopy(x)
		}
		return out
	}
	return v
}

// manifest writes the render back as a Helm manifest: each document of
// the original render (its "# Source:" line kept), the objects the
// comparison changed (kept fields, list order) marshalled again.
func (r *releaseRender) manifest(original string) string {
	var b strings.Builder
	for _, doc := range kube.Documents(original) {
		var u unstructured.Unstructured
		js, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil || u.UnmarshalJSON(js) != nil || u.GetKind() == "" || u.GetName() == "" {
			writeDoc(&b, doc)
			continue
		}
		o, ok := r.rendered[renderedName(&u, r.namespace)]
		if !ok || reflect.DeepEqual(o.Object, u.Object) {
			writeDoc(&b, doc)
			continue
		}
		body, err := yaml.Marshal(o.Object)
		if err != nil {
			writeDoc(&b, doc)
			continue
		}
		var head strings.Builder
		for _, line := range strings.SplitAfter(doc, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(line), "#") {
				break
			}
			head.WriteString(line)
		}
		writeDoc(&b, head.String()+string(body))
	}
	return b.String()
}

func writeDoc(b *strings.Builder, doc string) {
	b.WriteString("---\n")
	b.WriteString(strings.TrimSpace(doc))
	b.WriteString("\n")
}

// clockLayouts are the forms in which templates stamp the time of a
// render (DIGIT's deployment-timestamp is the first).
var clockLayouts = []string{"20060102150405", time.RFC3339, time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04:05.999999999 -0700 MST"}

// isRenderTime reports whether v, a field's new value, is a time within
// [from, to] written in one of clockLayouts (or as Unix seconds), and old,
// its deployed value, a time written the same way: a stamp of the render's
// clock, not a value from Git.
func isRenderTime(v, old any, from, to time.Time) bool {
	s, ok1 := v.(string)
	o, ok2 := old.(string)
	if !ok1 || !ok2 || s == o {
		return false
	}
	in := func(t time.Time) bool { return !t.Before(from) && !t.After(to) }
	if len(s) == 10 && len(o) == 10 {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			if _, err := strconv.ParseInt(o, 10, 64); err == nil {
				return in(time.Unix(n, 0))
			}
		}
	}
	for _, layout := range clockLayouts {
		t, err := time.ParseInLocation(layout, s, time.Local)
		if err != nil {
			continue
		}
		if _, err := time.ParseInLocation(layout, o, time.Local); err != nil {
			continue
		}
		return in(t)
	}
	return false
}

// renderTimes returns, by object, the differences from the deployed
// revision that are stamps of the render's clock (isRenderTime, the render
// made within [from, to]); ok is false when some difference is not one (a
// second render must tell).
func (r *releaseRender) renderTimes(diffs map[string][]string, from, to time.Time) (map[string][]string, bool) {
	out := map[string][]string{}
	for name, paths := range diffs {
		o, d := r.rendered[name], r.deployed[name]
		if o == nil || d == nil {
			return nil, false
		}
		for _, p := range paths {
			if p == "" {
				return nil, false
			}
			nv, ok1 := drift.PointerGet(o.Object, p)
			ov, ok2 := drift.PointerGet(d.Object, p)
			if !ok1 || !ok2 || !isRenderTime(nv, ov, from, to) {
				return nil, false
			}
			out[name] = append(out[name], p)
		}
	}
	return out, true
}
