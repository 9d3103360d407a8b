package reconciler

import (
	"context"
	"fmt"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/digitops/digitops/source/manifest"
)

// maxNondeterministicPaths bounds the fields a note names.
const maxNondeterministicPaths = 3

// noteNondeterminism renders every release the plan installs or upgrades
// twice, in two different wall-clock seconds, and adds a note for each
// release whose output differs between the renders (a `now`, a random
// string), naming the fields. Such a release is still decided from the
// digests of its chart and values, never from its render, so it is not
// upgraded on every sync; the note says why its objects change on each
// upgrade. Unchanged releases are not rendered.
func (p *Planner) noteNondeterminism(ctx context.Context, plan *Plan) {
	if p.SkipRenderCheck {
		return
	}
	var idx []int
	for i, st := range plan.Steps {
		if (st.Action == ActionInstall || st.Action == ActionUpgrade) && st.chart != nil {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return
	}
	first := make(map[int]string, len(idx))
	for _, i := range idx {
		if m, err := renderOffline(ctx, plan.Steps[i].Release, plan.Steps[i].chart); err == nil {
			first[i] = m
		}
	}
	// Templates stamp `now` with a resolution of a second at best: wait for
	// the next second so that a second render can differ.
	next := time.Now().Truncate(time.Second).Add(time.Second + 10*time.Millisecond)
	select {
	case <-ctx.Done():
		return
	case <-time.After(time.Until(next)):
	}
	for _, i := range idx {
		m1, ok := first[i]
		if !ok {
			continue
		}
		m2, err := renderOffline(ctx, plan.Steps[i].Release, plan.Steps[i].chart)
		if err != nil {
			continue
		}
		spec := plan.Steps[i].Release
		if paths := nondeterministicPaths(m1, m2, spec.Namespace); len(paths) > 0 {
			more := ""
			if len(paths) > maxNondeterministicPaths {
				more = fmt.Sprintf(" and %d more", len(paths)-maxNondeterministicPaths)
				paths = paths[:maxNondeterministicPaths]
			}
			note := fmt.Sprintf("release %s renders differently on every run at %s%s; digitops upgrades it only when its chart or values change",
				spec.Name, strings.Join(paths, ", "), more)
			plan.Notes = append(plan.Notes, MaskSecrets(note, spec.SecretValues))
		}
	}
}

// renderOffline renders a release's manifest without a cluster, the way
// `helm template` does.
func renderOffline(ctx context.Context, spec manifest.ReleaseSpec, c *chart.Chart) (string, error) {
	return Render(ctx, spec, c, RenderOptions{})
}

// nondeterministicPaths compares two renders object by object and returns
// "Kind/namespace/name /path" for every field that differs.
func nondeterministicPaths(a, b, namespace string) []string {
	objsA, errA := parseManifest(a)
	objsB, errB := parseManifest(b)
	if errA != nil || errB != nil {
		return nil
	}
	byName := make(map[string]*unstructured.Unstructured, len(objsB))
	for _, o := range objsB {
		byName[renderedName(o, namespace)] = o
	}
	var out []string
	for _, o := range objsA {
		name := renderedName(o, namespace)
		other, ok := byName[name]
		if !ok {
			out = append(out, name)
			continue
		}
		for _, p := range diffRendered(o, other) {
			out = append(out, name+" "+p)
		}
	}
	return out
}

func renderedName(u *unstructured.Unstructured, namespace string) string {
	if u.GetNamespace() == "" {
		u = u.DeepCopy()
		u.SetNamespace(namespace)
	}
	return objectName(u)
}
