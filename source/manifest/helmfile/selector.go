package helmfile

import (
	"fmt"
	"strings"
)

// selector is one --selector argument: every term must match (AND).
type selector []selectorTerm

type selectorTerm struct {
	key, value string
	negate     bool
}

// parseSelectors parses helmfile-style selectors: each string is a
// comma-separated list of key=value or key!=value terms that must all
// match; a release is selected when any one string matches (OR).
func parseSelectors(in []string) ([]selector, error) {
	out := make([]selector, 0, len(in))
	for _, s := range in {
		var sel selector
		for _, term := range strings.Split(s, ",") {
			term = strings.TrimSpace(term)
			var t selectorTerm
			if k, v, ok := strings.Cut(term, "!="); ok {
				t = selectorTerm{key: strings.TrimSpace(k), value: strings.TrimSpace(v), negate: true}
			} else if k, v, ok := strings.Cut(term, "="); ok {
				t = selectorTerm{key: strings.TrimSpace(k), value: strings.TrimSpace(v)}
			} else {
				return nil, fmt.Errorf("selector %q: term %q is not key=value or key!=value", s, term)
			}
			if t.key == "" {
				return nil, fmt.Errorf("selector %q: term %q has no key", s, term)
			}
			sel = append(sel, t)
		}
		out = append(out, sel)
	}
	return out, nil
}

// matchAny reports whether labels match one of the selectors; no selectors
// match everything.
func matchAny(sels []selector, labels map[string]string) bool {
	if len(sels) == 0 {
		return true
	}
	for _, s := range sels {
		if s.match(labels) {
			return true
		}
	}
	return false
}

func (s selector) match(labels map[string]string) bool {
	for _, t := range s {
		v, ok := labels[t.key]
		if t.negate {
			// A missing label is different from any value, as in helmfile.
			if ok && v == t.value {
				return false
			}
			continue
		}
		if !ok || v != t.value {
			return false
		}
	}
	return true
}

// selectorLabels are the labels a selector sees: the release's own plus
// helmfile's implicit name, namespace and chart.
func selectorLabels(labels map[string]string, name, namespace, chart string) map[string]string {
	out := make(map[string]string, len(labels)+3)
	for k, v := range labels {
		out[k] = v
	}
	out["name"] = name
	out["namespace"] = namespace
	out["chart"] = chart
	return out
}
