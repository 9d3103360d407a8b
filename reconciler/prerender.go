package reconciler

import (
	"bytes"
	"strconv"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
)

// maxPlannedChart bounds the render installed as is: a planned chart is
// stored in the release beside the manifest (Helm's release Secret holds
// at most 1 MiB, compressed).
const maxPlannedChart = 512 << 10

// templateTraits are the template contents that make Helm's render at
// install differ from the plan's client-side one: a lookup of live objects,
// the revision number (always 1 in a plan), hooks (left out of the plan's
// render).
var templateTraits = [][]byte{[]byte("lookup"), []byte(".Release.Revision"), []byte("helm.sh/hook")}

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
func plannedChart(step *Step) *chart.Chart {
	c := step.chart
	if c == nil || c.Metadata == nil || step.rendered == "" || len(step.rendered) > maxPlannedChart || !renderedAsIs(c) {
		return nil
	}
	files, ok := manifestSources(step.rendered)
	if !ok {
		return nil
	}
	md := *c.Metadata
	md.Dependencies = nil // their objects are in the render
	out := &chart.Chart{Metadata: &md, Values: c.Values}
	prefix := c.Name() + "/"
	for _, f := range files {
		name, ok := strings.CutPrefix(f.source, prefix)
		if !ok {
			return nil
		}
		// A Go template that prints the content: a string literal
		// escapes whatever the manifest holds, "{{" included.
		out.Templates = append(out.Templates, &chart.File{Name: name, Data: []byte("{{ " + strconv.Quote(f.content) + " }}")})
	}
	return out
}

// renderedAsIs reports whether the plan's client-side render of c is what
// Helm renders when it installs or upgrades (see plannedChart).
func renderedAsIs(c *chart.Chart) bool {
	if len(c.CRDObjects()) > 0 {
		return false
	}
	var ok func(*chart.Chart) bool
	ok = func(c *chart.Chart) bool {
		for _, t := range c.Templates {
			if strings.HasSuffix(t.Name, "NOTES.txt") {
				return false
			}
			for _, trait := range templateTraits {
				if bytes.Contains(t.Data, trait) {
					return false
				}
			}
		}
		for _, d := range c.Dependencies() {
			if !ok(d) {
				return false
			}
		}
		return true
	}
	return ok(c)
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
