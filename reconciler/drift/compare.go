package drift

import (
	"bytes"
	"encoding/base64"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/digitops/digitops/internal/redact"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// compareOptions say how to judge differences between a deployed object and
// its live state.
type compareOptions struct {
	// own are the field managers whose writes are the release's own.
	own []string
	// allowed are the field managers (globs) whose changes are not drift.
	allowed []string
	// ignore are the ignore rules that apply to this release.
	ignore []manifest.DriftIgnoreRule
	// secrets are values masked wherever they appear.
	secrets []string
}

func newCompareOptions(spec manifest.ReleaseSpec, policy manifest.SyncPolicy) compareOptions {
	opts := compareOptions{
		own:     helmManagers(),
		allowed: append(DefaultAllowManagers(), policy.DriftAllowManagers...),
		secrets: spec.SecretValues,
	}
	for _, r := range policy.DriftIgnore {
		if r.Release == "" || r.Release == spec.Name {
			opts.ignore = append(opts.ignore, r)
		}
	}
	return opts
}

// finding is a drift item with what correcting it needs.
type finding struct {
	Item
	// loc is where the field is in the live object: map keys (string) and
	// list indices (int). For a removed list item the last index is -1
	// (append).
	loc []any
	// desired is the value the release deployed (changed, removed).
	desired any
}

// fieldOwner is one entry of an object's managedFields.
type fieldOwner struct {
	manager string
	time    time.Time
	set     *fieldpath.Set
}

// ignoredMetadata is never compared (nor is status): metadata the apiserver
// maintains.
var ignoredMetadata = []string{
	"managedFields", "resourceVersion", "uid", "generation", "creationTimestamp",
	"selfLink", "deletionTimestamp", "deletionGracePeriodSeconds",
}

// compareObject compares an object as the release deployed it with its live
// state and returns the drift, judged by managedFields:
//
//   - a field the chart sets whose live value differs is drift when a field
//     manager other than Helm and the allowed ones owns it; a value that
//     differs while only Helm owns it is the apiserver's (defaulting,
//     normalisation, a mutating webhook acting on Helm's request);
//   - a field the chart does not set is drift when such a manager owns it;
//   - a field the chart sets that is gone is drift (unless its value is
//     empty, which the apiserver drops); managedFields do not say who
//     removed it;
//   - status and server-maintained metadata are never compared.
//
// An object without managedFields is compared by value only: changed and
// removed fields are drift, with no manager named.
func compareObject(desired, live *unstructured.Unstructured, opts compareOptions) []finding {
	d := normalizeDesired(desired.Object)
	l := runtime.DeepCopyJSON(live.Object)
	for _, obj := range []map[string]any{d, l} {
		delete(obj, "status")
		if md, ok := obj["metadata"].(map[string]any); ok {
			for _, k := range ignoredMetadata {
				delete(md, k)
			}
			if ann, ok := md["annotations"].(map[string]any); ok {
				delete(ann, "kubectl.kubernetes.io/last-applied-configuration")
			}
		}
	}
	w := &walker{opts: opts, owners: fieldOwners(live), secret: isSecret(desired)}
	w.hasFields = len(live.GetManagedFields()) > 0
	w.object = kube.Ref(desired)
	w.walk(d, l, nil, nil, nil)
	out := w.found[:0]
	for _, f := range w.found {
		if !ignored(opts.ignore, desired, f.Path) {
			out = append(out, f)
		}
	}
	return out
}

// DiffRendered compares two renders of the same object and returns the paths
// that differ (every difference, no ownership).
func DiffRendered(a, b *unstructured.Unstructured) []string {
	w := &walker{raw: true}
	w.walk(normalizeDesired(a.Object), normalizeDesired(b.Object), nil, nil, nil)
	paths := make([]string, len(w.found))
	for i, f := range w.found {
		paths[i] = f.Path
	}
	return paths
}

// normalizeDesired copies a manifest object into the shape the apiserver
// stores: a Secret's stringData becomes data.
func normalizeDesired(obj map[string]any) map[string]any {
	d := runtime.DeepCopyJSON(obj)
	if d["kind"] == "Secret" && d["apiVersion"] == "v1" {
		if sd, ok := d["stringData"].(map[string]any); ok {
			data, _ := d["data"].(map[string]any)
			if data == nil {
				data = map[string]any{}
			}
			for k, v := range sd {
				if s, ok := v.(string); ok {
					data[k] = base64.StdEncoding.EncodeToString([]byte(s))
				}
			}
			d["data"] = data
			delete(d, "stringData")
		}
	}
	return d
}

func fieldOwners(live *unstructured.Unstructured) []fieldOwner {
	var out []fieldOwner
	for _, mf := range live.GetManagedFields() {
		if mf.Subresource == "status" || mf.FieldsV1 == nil {
			continue
		}
		set := &fieldpath.Set{}
		if err := set.FromJSON(bytes.NewReader(mf.FieldsV1.Raw)); err != nil {
			continue
		}
		var t time.Time
		if mf.Time != nil {
			t = mf.Time.Time
		}
		out = append(out, fieldOwner{manager: mf.Manager, time: t, set: set})
	}
	// Newest first, so the most recent writer is named first.
	sort.SliceStable(out, func(i, j int) bool { return out[i].time.After(out[j].time) })
	return out
}

func isSecret(u *unstructured.Unstructured) bool {
	return u.GetKind() == "Secret" && u.GetAPIVersion() == "v1"
}

// walker walks a desired and a live object side by side.
type walker struct {
	opts      compareOptions
	owners    []fieldOwner
	hasFields bool
	secret    bool
	object    string
	// raw reports every difference, without ownership.
	raw   bool
	found []finding
}

func with[T any](s []T, v T) []T {
	out := make([]T, len(s), len(s)+1)
	copy(out, s)
	return append(out, v)
}

func (w *walker) walk(d, l any, tokens []string, fp fieldpath.Path, loc []any) {
	if d == nil {
		return
	}
	switch dv := d.(type) {
	case map[string]any:
		lv, ok := l.(map[string]any)
		if !ok {
			w.changed(d, l, tokens, fp, loc)
			return
		}
		for _, k := range sortedKeys(dv) {
			t, p, c := with(tokens, EscapeToken(k)), with(fp, fieldpath.PathElement{FieldName: &k}), with(loc, any(k))
			sub, has := lv[k]
			if !has {
				w.removed(dv[k], t, c)
				continue
			}
			w.walk(dv[k], sub, t, p, c)
		}
		for _, k := range sortedKeys(lv) {
			if _, has := dv[k]; !has {
				w.added(lv[k], with(tokens, EscapeToken(k)), with(fp, fieldpath.PathElement{FieldName: &k}), with(loc, any(k)))
			}
		}
	case []any:
		lv, ok := l.([]any)
		if !ok {
			w.changed(d, l, tokens, fp, loc)
			return
		}
		keys := w.listKeys(fp, dv, lv)
		if keys == nil {
			if len(dv) == len(lv) && allMaps(dv) && allMaps(lv) {
				// No key known: compare maps item by item, so that server
				// defaults inside items are not drift.
				for i := range dv {
					w.walk(dv[i], lv[i], with(tokens, strconv.Itoa(i)), with(fp, fieldpath.PathElement{Index: &i}), with(loc, any(i)))
				}
				return
			}
			if !valuesEqual(dv, lv) {
				w.changed(d, l, tokens, fp, loc)
			}
			return
		}
		if duplicateKeys(keys, dv) {
			// Items that share a key (a chart's env list naming a
			// variable twice) are told apart by their place alone, and
			// managedFields cannot say who moved them: the list is
			// compared as a whole, in order, and put back whole.
			if !covers(dv, lv) {
				foreign, _, _ := w.ownersOf(fp)
				w.add(Changed, tokens, loc, d, l, strings.Join(foreign, ","))
			}
			return
		}
		matched := make([]bool, len(lv))
		for _, item := range dv {
			di, _ := item.(map[string]any)
			li := matchItem(keys, di, lv, matched)
			if li < 0 {
				w.removed(item, with(tokens, keyToken(keys, di)), with(loc, any(-1)))
				continue
			}
			matched[li] = true
			litem := lv[li].(map[string]any)
			w.walk(di, litem, with(tokens, keyToken(keys, litem)), with(fp, keyElement(keys, litem)), with(loc, any(li)))
		}
		for i, item := range lv {
			if matched[i] {
				continue
			}
			if li, ok := item.(map[string]any); ok {
				w.added(item, with(tokens, keyToken(keys, li)), with(fp, keyElement(keys, li)), with(loc, any(i)))
			}
		}
	default:
		if !valuesEqual(d, l) {
			w.changed(d, l, tokens, fp, loc)
		}
	}
}

// descend returns the child set of s at p, nil when s has nothing there.
func descend(s *fieldpath.Set, p fieldpath.Path) *fieldpath.Set {
	for _, pe := range p {
		c, ok := s.Children.Get(pe)
		if !ok {
			return nil
		}
		s = c
	}
	return s
}

// touches reports whether s owns p or anything under it.
func touches(s *fieldpath.Set, p fieldpath.Path) bool {
	if len(p) == 0 {
		return !s.Empty()
	}
	parent := descend(s, p[:len(p)-1])
	if parent == nil {
		return false
	}
	last := p[len(p)-1]
	if parent.Members.Has(last) {
		return true
	}
	c, ok := parent.Children.Get(last)
	return ok && !c.Empty()
}

// ownersOf splits the managers that own p (or part of it) into foreign ones
// (drift) and whether an own or allowed manager is among them.
func (w *walker) ownersOf(p fieldpath.Path) (foreign []string, allowed, own bool) {
	seen := map[string]bool{}
	for _, o := range w.owners {
		if !touches(o.set, p) {
			continue
		}
		switch {
		case matchManager(w.opts.allowed, o.manager):
			allowed = true
		case matchManager(w.opts.own, o.manager):
			own = true
		case !seen[o.manager]:
			seen[o.manager] = true
			foreign = append(foreign, o.manager)
		}
	}
	return foreign, allowed, own
}

func (w *walker) changed(d, l any, tokens []string, fp fieldpath.Path, loc []any) {
	if w.raw {
		w.add(Changed, tokens, loc, d, l, "")
		return
	}
	if !w.hasFields {
		w.add(Changed, tokens, loc, d, l, "")
		return
	}
	foreign, allowed, _ := w.ownersOf(fp)
	if allowed || len(foreign) == 0 {
		return
	}
	w.add(Changed, tokens, loc, d, l, strings.Join(foreign, ","))
}

func (w *walker) removed(d any, tokens []string, loc []any) {
	if isEmptyValue(d) {
		return
	}
	// managedFields keep no trace of who removed a field (the remover owns
	// nothing afterwards), so no manager is named.
	w.add(Removed, tokens, loc, d, nil, "")
}

func (w *walker) added(l any, tokens []string, fp fieldpath.Path, loc []any) {
	if w.raw {
		w.add(Added, tokens, loc, nil, l, "")
		return
	}
	if !w.hasFields {
		return // no telling a default from an edit
	}
	foreign, allowed, own := w.ownersOf(fp)
	if len(foreign) == 0 {
		return
	}
	if !allowed && !own {
		w.add(Added, tokens, loc, nil, l, strings.Join(foreign, ","))
		return
	}
	// Shared with Helm or an allowed manager: look deeper for the part the
	// foreign manager owns.
	switch lv := l.(type) {
	case map[string]any:
		for _, k := range sortedKeys(lv) {
			w.added(lv[k], with(tokens, EscapeToken(k)), with(fp, fieldpath.PathElement{FieldName: &k}), with(loc, any(k)))
		}
	case []any:
		keys := w.listKeys(fp, nil, lv)
		for i, item := range lv {
			if li, ok := item.(map[string]any); ok && keys != nil {
				w.added(item, with(tokens, keyToken(keys, li)), with(fp, keyElement(keys, li)), with(loc, any(i)))
			}
		}
	}
}

func (w *walker) add(kind Kind, tokens []string, loc []any, d, l any, manager string) {
	f := finding{
		Item: Item{
			Object:  redact.Secrets(w.object, w.opts.secrets),
			Path:    redact.Secrets("/"+strings.Join(tokens, "/"), w.opts.secrets),
			Kind:    kind,
			Manager: manager,
		},
		loc:     loc,
		desired: d,
	}
	if kind != Added {
		f.Before = w.show(tokens, d)
	}
	if kind != Removed {
		f.After = w.show(tokens, l)
	}
	w.found = append(w.found, f)
}

// show renders a value for a drift item, masked for Secret data and secret
// values.
func (w *walker) show(tokens []string, v any) string {
	if v == nil {
		return ""
	}
	s := scalarString(v)
	if w.secret && len(tokens) > 0 && (tokens[0] == "data" || tokens[0] == "stringData") {
		return redact.Value(s)
	}
	s = redact.Secrets(s, w.opts.secrets)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// EscapeToken escapes a JSON pointer token (RFC 6901).
func EscapeToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// ignored reports whether an ignore rule covers the field at p of obj (p ""
// is the whole object).
func ignored(rules []manifest.DriftIgnoreRule, obj *unstructured.Unstructured, p string) bool {
	for _, r := range rules {
		if r.Kind != "" && !strings.EqualFold(r.Kind, obj.GetKind()) {
			continue
		}
		if r.Namespace != "" && r.Namespace != obj.GetNamespace() {
			continue
		}
		if r.Name != "" {
			if ok, _ := path.Match(r.Name, obj.GetName()); !ok && r.Name != obj.GetName() {
				continue
			}
		}
		if len(r.Paths) == 0 {
			return true
		}
		for _, rp := range r.Paths {
			if p != "" && pointerCovers(rp, p) {
				return true
			}
		}
	}
	return false
}

// pointerCovers reports whether the rule pointer is p or a prefix of it,
// token by token, `*` matching any one token.
func pointerCovers(rule, p string) bool {
	if rule == "/" || rule == "" {
		return true
	}
	rt := strings.Split(strings.TrimPrefix(rule, "/"), "/")
	pt := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(rt) > len(pt) {
		return false
	}
	for i, t := range rt {
		if t != "*" && t != pt[i] {
			return false
		}
	}
	return true
}

// helmOwnership adds the labels and annotations Helm puts on every object it
// installs, so that a re-created object still belongs to its release.
func helmOwnership(u *unstructured.Unstructured, release, namespace string) {
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[kube.HelmManagedByLabel] = "Helm"
	u.SetLabels(labels)
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[kube.HelmReleaseNameAnnotation] = release
	ann[kube.HelmReleaseNamespaceAnnotation] = namespace
	u.SetAnnotations(ann)
}
