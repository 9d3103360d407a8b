package reconciler

import (
	"bytes"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/digitops/digitops/reconciler/kube"
)

// adoptedManifests are the old and new manifests of a takeover install's
// diff: new is the render as the install applies it (live values kept,
// live list order: keepLivePostRenderer), old holds, for each adopted
// object, its live counterpart cut to the fields the render sets (what
// the cluster defaults or other writers add is not the install's to
// change, and would only be noise). The diff then shows what the install
// changes in each live object (a replica count scaled by hand, put back),
// where an install's diff would show the whole object as added.
func adoptedManifests(step *Step, rendered string) (old, new string, err error) {
	out, err := keepLivePostRenderer{namespace: step.Release.Namespace, keep: step.keepLive, live: step.liveAdopted}.Run(bytes.NewBufferString(rendered))
	if err != nil {
		return "", "", err
	}
	new = out.String()
	objs, err := kube.Objects(new)
	if err != nil {
		return "", "", err
	}
	var b strings.Builder
	for _, o := range objs {
		live := step.liveAdopted[renderedName(o, step.Release.Namespace)]
		if live == nil {
			continue
		}
		y, err := yaml.Marshal(liveAsRendered(live.Object, o.Object))
		if err != nil {
			return "", "", err
		}
		b.WriteString("---\n" + string(y))
	}
	return b.String(), new, nil
}

// liveAsRendered is live cut to the fields rendered sets: a map keeps the
// keys rendered has (each cut in turn), a list of as many items keeps its
// items cut item by item, anything else is live's value as it is. A field
// rendered sets and live lacks stays out (the diff shows it added).
func liveAsRendered(live, rendered any) any {
	switch r := rendered.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return live
		}
		out := make(map[string]any, len(r))
		for k, rv := range r {
			if lv, ok := l[k]; ok {
				out[k] = liveAsRendered(lv, rv)
			}
		}
		return out
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(r) {
			return live
		}
		out := make([]any, len(l))
		for i := range l {
			out[i] = liveAsRendered(l[i], r[i])
		}
		return out
	}
	return live
}
