package reconciler

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/postrender"
)

// maxPlannedChart bounds the render installed as is: a planned chart is
// stored in the release beside the manifest (Helm's release Secret holds
// at most 1 MiB, compressed).
const maxPlannedChart = 512 << 10

// templateTraits are the template contents that make Helm's render at
// install differ from the plan's client-side one: a lookup of live objects,
// the revision number (always 1 in a plan), hooks (left out of the plan's
// render). Values that a template renders with `tpl` are templates too.
var templateTraits = []string{"lookup", ".Release.Revision", "helm.sh/hook"}

// plannedChart returns a chart whose templates are the plan's render of
// step, literally, for Helm's install or upgrade to run instead of
// rendering the chart again: the apply installs exactly the objects the
// plan showed, and a release costs one render instead of two (renders are
// most of a cold install's CPU: DIGIT's common chart round-trips the whole
// environment file through YAML in every template). The chart keeps the
// original's metadata and default values, so that Helm's history shows the
// same chart. It returns nil (render as usual) when the plan's render may
// differ from Helm's: a template reads live objects (lookup), the revision
// or has hooks, the chart has CRDs or notes, the step was not rendered, or
// the render is too large to be stored twice.
//
// The plan's online render sees exactly the cluster's API versions, as
// Helm's action will, so a chart that asks for one (DIGIT's common chart
// asks for batch/v1beta1) is installed from the plan's render too.
func plannedChart(step *Step) *chart.Chart {
	if !runsPlanned(step) {
		return nil
	}
	files, _ := manifestSources(step.rendered)
	c := step.chart
	md := *c.Metadata
	md.Dependencies = nil // their objects are in the render
	out := &chart.Chart{Metadata: &md, Values: c.Values}
	prefix := c.Name() + "/"
	for _, f := range files {
		name, _ := strings.CutPrefix(f.source, prefix)
		// A Go template that prints the content: a string literal
		// escapes whatever the manifest holds, "{{" included.
		out.Templates = append(out.Templates, &chart.File{Name: name, Data: []byte("{{ " + strconv.Quote(f.content) + " }}")})
	}
	return out
}

// runsPlanned reports whether Helm can run the plan's render of step as is
// (plannedChart is not nil), without building that chart.
func runsPlanned(step *Step) bool {
	c := step.chart
	if c == nil || c.Metadata == nil || step.rendered == "" || step.renderedHooks != "" || len(step.rendered) > maxPlannedChart || !renderedAsIs(c, step.Release.MergedValues()) {
		return false
	}
	prefix := "# Source: " + c.Name() + "/"
	for _, doc := range strings.Split(strings.TrimPrefix(step.rendered, "---\n"), "\n---\n") {
		doc = strings.TrimSpace(doc)
		if doc == "" {
			continue
		}
		if head, _, _ := strings.Cut(doc, "\n"); !strings.HasPrefix(head, prefix) {
			return false
		}
	}
	return true
}

// chartToRun is the chart Helm installs or upgrades step with, and what it
// changes in Helm's render: the plan's render as is when Helm would render
// the same (plannedChart), else the chart with its post-renderer.
func (h helmEnv) chartToRun(ctx context.Context, step *Step) (*chart.Chart, postrender.PostRenderer, error) {
	c := plannedChart(step)
	pr, err := h.postRenderer(ctx, step, c != nil)
	if err != nil {
		return nil, nil, err
	}
	if c == nil {
		c = step.chart
	}
	return c, pr, nil
}

// renderedAsIs reports whether the plan's render of c with values is what
// Helm renders when it installs or upgrades. The plan renders online with
// exactly the capabilities Helm's action gets (the cluster's API
// versions, see renderRelease), so only what Helm's render reads beyond
// them can differ: NOTES.txt, the templateTraits, CRDs.
func renderedAsIs(c *chart.Chart, values map[string]any) bool {
	if len(c.CRDObjects()) > 0 {
		return false
	}
	usesTpl := false
	differs := anyTemplate(c, func(t *chart.File) bool {
		if strings.HasSuffix(t.Name, "NOTES.txt") || hasTrait(string(t.Data)) {
			return true
		}
		usesTpl = usesTpl || bytes.Contains(t.Data, []byte("tpl "))
		return false
	})
	return !differs && !(usesTpl && valuesHaveTrait(values))
}

// anyTemplate reports whether f holds for a template of c or of its
// dependencies, in that order; it stops at the first.
func anyTemplate(c *chart.Chart, f func(*chart.File) bool) bool {
	if slices.ContainsFunc(c.Templates, f) {
		return true
	}
	return slices.ContainsFunc(c.Dependencies(), func(d *chart.Chart) bool { return anyTemplate(d, f) })
}

// hasTrait reports whether a template (or a value a template renders with
// tpl) holds one of templateTraits.
func hasTrait(s string) bool {
	for _, trait := range templateTraits {
		if strings.Contains(s, trait) {
			return true
		}
	}
	return false
}

// valuesHaveTrait reports whether a string anywhere in v holds one of
// templateTraits or asks about API versions: `tpl` renders it.
func valuesHaveTrait(v any) bool {
	switch v := v.(type) {
	case string:
		return hasTrait(v)
	case map[string]any:
		for _, x := range v {
			if valuesHaveTrait(x) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if valuesHaveTrait(x) {
				return true
			}
		}
	}
	return false
}

// sourceFile is the content one template file rendered.
type sourceFile struct {
	source  string
	content string
}

// manifestSources splits a Helm manifest ("---\n# Source: PATH\nDOC\n" per
// document) back into the files that rendered it, documents in order; ok is
// false when a document has no source line.
func manifestSources(m string) (files []sourceFile, ok bool) {
	index := map[string]int{}
	for _, doc := range strings.Split(strings.TrimPrefix(m, "---\n"), "\n---\n") {
		doc = strings.TrimSpace(doc)
		if doc == "" {
			continue
		}
		head, body, _ := strings.Cut(doc, "\n")
		source, found := strings.CutPrefix(head, "# Source: ")
		if !found {
			return nil, false
		}
		i, seen := index[source]
		if !seen {
			i = len(files)
			index[source] = i
			files = append(files, sourceFile{source: source})
		} else {
			files[i].content += "\n---\n"
		}
		files[i].content += body
	}
	return files, true
}
