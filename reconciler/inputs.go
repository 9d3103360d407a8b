package reconciler

import (
	"context"
	"encoding/base64"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/digitops/digitops/internal/parallel"
	"github.com/digitops/digitops/internal/redact"
	"github.com/digitops/digitops/reconciler/kube"
)

// Input is one value of a release that changed in Git since its deployed
// revision: the file it comes from, its dotted key, the old and the new
// value (secrets masked, long values cut).
type Input struct {
	File string `json:"file"`
	Key  string `json:"key"`
	// Old is empty when the key is new; New when it was removed.
	Old string `json:"old"`
	New string `json:"new"`
}

// String is "deploy-as-code/helm/environments/uat.yaml: egov-user.replicas 2 → 3".
func (in Input) String() string {
	old, nw := in.Old, in.New
	if old == "" {
		old = "(none)"
	}
	if nw == "" {
		nw = "(removed)"
	}
	return fmt.Sprintf("%s: %s %s → %s", in.File, in.Key, old, nw)
}

// Limits of what a plan says about changed inputs.
const (
	// maxInputs bounds the inputs listed per release.
	maxInputs = 20
	// maxInputValue bounds the characters of a value shown.
	maxInputValue = 60
)

// storageReads bounds the reads of Helm's storage in flight in one pass:
// each is a GET and a decode, mostly a wait on the apiserver, so more
// than the cores.
const storageReads = 16

// explainInputs names, for every upgrade and record of a deployed release
// whose values changed, the keys that moved (against the values stored in
// its deployed revision) and the file each comes from: Step.Inputs for the
// upgrades, and Plan.InputsWithNoEffect for the keys that changed only in
// releases it records (their render did not move).
func (p *Planner) explainInputs(ctx context.Context, plan *Plan) {
	if p.Cluster == nil {
		return
	}
	var idx []int
	for i := range plan.Steps {
		st := &plan.Steps[i]
		if (st.Action == ActionUpgrade || st.Action == ActionRecord) && st.Live != nil && st.Live.LastDeployed > 0 &&
			st.Live.Environment == plan.Environment && st.Live.ValuesDigest != st.Desired.ValuesDigest {
			idx = append(idx, i)
		}
	}
	inputs := make([][]Input, len(idx))
	parallel.ForEach(ctx, len(idx), storageReads, func(ctx context.Context, k int) {
		st := &plan.Steps[idx[k]]
		stored, err := kube.ReadStoredRevision(ctx, p.Cluster.Clientset.CoreV1().Secrets(st.Release.Namespace), st.Release.Name, st.Live.LastDeployed)
		if err != nil {
			return
		}
		if st.Action == ActionRecord {
			// Only a record uses it (an upgrade's Helm reads its own).
			st.stored = stored
		}
		old, err := stored.Values()
		if err != nil {
			return
		}
		var objs []*unstructured.Unstructured
		if deployed, err := p.deployedObjects(ctx, st); err == nil {
			objs = deployed
		}
		if rendered, err := kube.Objects(st.rendered); err == nil {
			objs = append(objs, rendered...)
		}
		inputs[k] = changedInputs(st, old, secretData(objs))
	})
	type seen struct{ effect bool }
	keys := map[Input]*seen{}
	var order []Input
	for k, i := range idx {
		st := &plan.Steps[i]
		for _, in := range inputs[k] {
			s, ok := keys[in]
			if !ok {
				s = &seen{}
				keys[in] = s
				order = append(order, in)
			}
			s.effect = s.effect || st.Action == ActionUpgrade
		}
		if st.Action == ActionUpgrade {
			st.Inputs = inputs[k]
		}
	}
	for _, in := range order {
		if !keys[in].effect {
			plan.InputsWithNoEffect = append(plan.InputsWithNoEffect, in)
		}
	}
}

// secretData returns whether a string is part of the data of one of the
// Secrets among objs (decoded).
func secretData(objs []*unstructured.Unstructured) func(string) bool {
	var data []string
	for _, o := range objs {
		if o.GetKind() != "Secret" {
			continue
		}
		for _, field := range []string{"data", "stringData"} {
			m, _ := o.Object[field].(map[string]any)
			for _, v := range m {
				s, ok := v.(string)
				if !ok {
					continue
				}
				if field == "data" {
					if b, err := base64.StdEncoding.DecodeString(s); err == nil {
						s = string(b)
					}
				}
				data = append(data, s)
			}
		}
	}
	return func(v string) bool {
		for _, d := range data {
			if strings.Contains(d, v) {
				return true
			}
		}
		return false
	}
}

// changedInputs are the keys of st's values that differ from old, each
// with the file it comes from, secrets masked.
func changedInputs(st *Step, old map[string]any, inSecret func(string) bool) []Input {
	secrets := append(append([]string(nil), st.Release.SecretValues...), redact.PreviousValues(st.Release.MergedValues(), old, st.Release.SecretValues)...)
	show := func(v any, present bool) string {
		if !present {
			return ""
		}
		s := valueString(v)
		// A value that ends up in a Secret is as secret as the Secret,
		// wherever the value was written; so is a map or list (a key
		// added or removed whole) holding one.
		if inSecret != nil && anyString(v, func(str string) bool { return len(str) >= 4 && inSecret(str) }) {
			if str, ok := v.(string); ok {
				return redact.Value(str) // the hash every other output shows
			}
			return redact.Value(s)
		}
		s = redact.Secrets(s, secrets)
		if len(s) > maxInputValue {
			s = s[:maxInputValue] + "…"
		}
		return s
	}
	var out []Input
	more := 0
	walkChanges(old, st.Release.MergedValues(), nil, func(path []string, o, n any, hasOld, hasNew bool) {
		if len(out) == maxInputs {
			more++
			return
		}
		file := st.Release.SourceOf(keysOf(path))
		if file == "" {
			file = st.Release.Source
		}
		out = append(out, Input{File: file, Key: strings.Join(path, "."), Old: show(o, hasOld), New: show(n, hasNew)})
	})
	if more > 0 {
		out = append(out, Input{File: st.Release.Source, Key: fmt.Sprintf("(%d more keys)", more)})
	}
	return out
}

// keysOf is path without the list indexes walkChanges appends ("hosts[1]"
// is the key hosts).
func keysOf(path []string) []string {
	out := make([]string, len(path))
	for i, k := range path {
		if j := strings.IndexByte(k, '['); j > 0 && strings.HasSuffix(k, "]") {
			k = k[:j]
		}
		out[i] = k
	}
	return out
}

// anyString reports whether f holds for a string in v (itself, or one
// anywhere in a map or list).
func anyString(v any, f func(string) bool) bool {
	switch v := v.(type) {
	case string:
		return f(v)
	case map[string]any:
		for _, x := range v {
			if anyString(x, f) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if anyString(x, f) {
				return true
			}
		}
	}
	return false
}

// walkChanges calls f for every leaf where old and new differ (maps by
// key in sorted order, lists item by item as key[i]).
func walkChanges(old, new any, path []string, f func(path []string, o, n any, hasOld, hasNew bool)) {
	om, oIsMap := old.(map[string]any)
	nm, nIsMap := new.(map[string]any)
	if oIsMap && nIsMap {
		keys := make([]string, 0, len(om)+len(nm))
		for k := range om {
			keys = append(keys, k)
		}
		for k := range nm {
			if _, ok := om[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			ov, hasOld := om[k]
			nv, hasNew := nm[k]
			p := append(path[:len(path):len(path)], k)
			switch {
			case !hasOld:
				f(p, nil, nv, false, true)
			case !hasNew:
				f(p, ov, nil, true, false)
			default:
				walkChanges(ov, nv, p, f)
			}
		}
		return
	}
	ol, oIsList := old.([]any)
	nl, nIsList := new.([]any)
	if oIsList && nIsList && len(ol) == len(nl) {
		for i := range ol {
			// key[i]: the index goes on the list's own key.
			p := []string{"[" + strconv.Itoa(i) + "]"}
			if len(path) > 0 {
				p = append(path[:len(path)-1:len(path)-1], path[len(path)-1]+p[0])
			}
			walkChanges(ol[i], nl[i], p, f)
		}
		return
	}
	if !sameValue(old, new) {
		f(path, old, new, true, true)
	}
}

// sameValue compares two values as JSON would (Helm stores values as JSON:
// its numbers are float64, a YAML file's are ints).
func sameValue(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	if al, ok := a.([]any); ok {
		bl, ok := b.([]any)
		if !ok || len(al) != len(bl) {
			return false
		}
		for i := range al {
			if !sameValue(al[i], bl[i]) {
				return false
			}
		}
		return true
	}
	if am, ok := a.(map[string]any); ok {
		bm, ok := b.(map[string]any)
		if !ok || len(am) != len(bm) {
			return false
		}
		for k, v := range am {
			w, ok := bm[k]
			if !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	case uint64:
		return float64(n), true
	}
	return 0, false
}

// valueString shows a value on one line.
func valueString(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(v)
	case map[string]any, []any:
		return fmt.Sprintf("%v", v)
	}
	if n, ok := number(v); ok {
		return strconv.FormatFloat(n, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}
