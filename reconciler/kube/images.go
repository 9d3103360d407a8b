package kube

import (
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// ManifestImages returns the images of every container and init container
// of the pod templates (and pods) in a manifest, sorted and unique.
func ManifestImages(manifest string) []string {
	seen := map[string]bool{}
	dec := yaml.NewDecoder(strings.NewReader(manifest))
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			break
		}
		for _, spec := range podSpecs(obj) {
			for _, field := range []string{"containers", "initContainers"} {
				list, _ := spec[field].([]any)
				for _, c := range list {
					if m, ok := c.(map[string]any); ok {
						if img, ok := m["image"].(string); ok && img != "" {
							seen[img] = true
						}
					}
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for img := range seen {
		out = append(out, img)
	}
	sort.Strings(out)
	return out
}

// podSpecs returns the pod specs of an object: a Pod's spec, a workload's
// spec.template.spec, a CronJob's spec.jobTemplate.spec.template.spec.
func podSpecs(obj map[string]any) []map[string]any {
	get := func(m map[string]any, keys ...string) map[string]any {
		for _, k := range keys {
			next, ok := m[k].(map[string]any)
			if !ok {
				return nil
			}
			m = next
		}
		return m
	}
	var out []map[string]any
	if obj["kind"] == "Pod" {
		if s := get(obj, "spec"); s != nil {
			out = append(out, s)
		}
	}
	for _, path := range [][]string{{"spec", "template", "spec"}, {"spec", "jobTemplate", "spec", "template", "spec"}} {
		if s := get(obj, path...); s != nil {
			out = append(out, s)
		}
	}
	return out
}
