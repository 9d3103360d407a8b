package reconciler

import (
	"bytes"
	"context"
	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/reconciler/kube"
	"helm.sh/helm/v3/pkg/postrender"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
	"strings"
)

// postRenderer is what an install or upgrade of step changes in Helm's
// render: the whole render replaced by one with the name the templates
// must see (releaseName: deployer; not when Helm runs the plan's render,
// planned, which has that name), then the live values a takeover keeps.
// nil when nothing.
func (h helmEnv) postRenderer(ctx context.Context, step *Step, planned bool) (postrender.PostRenderer, error) {
	spec := step.Release
	var chain postRenderers
	if !planned && spec.TemplateName != "" && spec.TemplateName != spec.Name {
		opts := renderOptions(h.cluster, "", step)
		opts.NoCRDs = true
		m, err := Render(ctx, spec, step.chart, opts)
		if err != nil {
			return nil, err
		}
		chain = append(chain, replaceRender{manifest: m})
	}
	if len(step.keepLive) > 0 || len(step.liveAdopted) > 0 {
		chain = append(chain, keepLivePostRenderer{namespace: spec.Namespace, keep: step.keepLive, live: step.liveAdopted})
	}
	if h.allowed != nil && !planned {
		chain = append(chain, policyPostRenderer{rules: h.allowed, cluster: h.cluster, namespace: spec.Namespace})
	}
	if len(chain) == 0 {
		return nil, nil
	}
	return chain, nil
}

// postRenderers run one after the other.
type postRenderers []postrender.PostRenderer

// Run implements postrender.PostRenderer.
func (c postRenderers) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	var err error
	for _, pr := range c {
		if in, err = pr.Run(in); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// replaceRender replaces Helm's render by one made beforehand with another
// .Release.Name: Helm's SDK renders with the release's name, which must
// stay unique, while the objects keep the names the Go deployer gave them.
type replaceRender struct{ manifest string }

// Run implements postrender.PostRenderer.
func (r replaceRender) Run(*bytes.Buffer) (*bytes.Buffer, error) {
	return bytes.NewBufferString(r.manifest), nil
}

// keepLivePostRenderer is the Helm post-renderer of a takeover install: in
// the objects it adopts, the fields that render differently on every run
// get their live value back, so that the install changes nothing there (a
// Deployment's pod template, and so its generation and its pods).
type keepLivePostRenderer struct {
	namespace string
	// keep is, by object name, the JSON pointers and their live values.
	keep map[string]map[string]any
	// live are the adopted objects, by name: a list the render holds in
	// another order than the live object gets the live order (a chart
	// that emits an env list in random order would otherwise roll pods).
	live map[string]*unstructured.Unstructured
}

// Run implements postrender.PostRenderer.
func (r keepLivePostRenderer) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	var out bytes.Buffer
	for _, doc := range kube.Documents(in.String()) {
		out.WriteString("---\n")
		out.WriteString(r.keepIn(doc))
		out.WriteString("\n")
	}
	return &out, nil
}

// keepIn returns doc with the live values of its object's kept fields, or
// doc itself when it has none. Leading comments (Helm's "# Source:") stay.
func (r keepLivePostRenderer) keepIn(doc string) string {
	var u unstructured.Unstructured
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil || u.Object == nil {
		return doc
	}
	name := renderedName(&u, r.namespace)
	fields, live := r.keep[name], r.live[name]
	if len(fields) == 0 && live == nil {
		return doc
	}
	changed := false
	if live != nil {
		before := runtimeCopy(u.Object)
		u.Object = alignLists(u.Object, live.Object).(map[string]any)
		changed = !sameValue(before, u.Object)
	}
	for path, v := range fields {
		changed = drift.PointerSet(u.Object, path, v) || changed
	}
	if !changed {
		return doc
	}
	body, err := yaml.Marshal(u.Object)
	if err != nil {
		return doc
	}
	var head strings.Builder
	for _, line := range strings.SplitAfter(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			break
		}
		head.WriteString(line)
	}
	return head.String() + string(body)
}
