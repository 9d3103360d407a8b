package harness

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/digitops/digitops/internal/fsutil"
	"github.com/digitops/digitops/source/manifest"
)

// tinyChart writes a chart of one ConfigMap named after the release. Value
// work pads it with that many characters (a slower render); value fail
// makes the render fail.
func tinyChart(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"Chart.yaml": "apiVersion: v2\nname: tiny\nversion: 0.1.0\n",
		"templates/configmap.yaml": `{{- if .Values.fail }}{{ fail "asked to fail" }}{{ end -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}
data:
  padding: "{{ range until (int (default 0 .Values.work)) }}x{{ end }}"
`,
	}
	if err := fsutil.WriteFiles(dir, files); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tinyEnvironment has n releases r0…r(n-1) of chart; values[i], when
// present, are release i's values.
func tinyEnvironment(chart string, n int, values map[int]map[string]any) *manifest.Environment {
	env := &manifest.Environment{Name: "tiny"}
	for i := range n {
		env.Releases = append(env.Releases, manifest.ReleaseSpec{
			Name: fmt.Sprintf("r%d", i), Namespace: "egov", Chart: manifest.ChartRef{Path: chart}, Values: values[i],
		})
	}
	return env
}

// TestRenderEnvironmentParallel_keepsOrder renders on four workers an
// environment whose first release is the slowest to render, so that it
// finishes last: the output is still in the environment's order, and
// object for object what the sequential pass renders.
func TestRenderEnvironmentParallel_keepsOrder(t *testing.T) {
	ctx := context.Background()
	env := tinyEnvironment(tinyChart(t), 8, map[int]map[string]any{0: {"work": 200_000}})
	got, err := renderEnvironmentParallel(ctx, env, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	want, err := renderEnvironment(ctx, env, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(env.Releases) || len(want) != len(env.Releases) {
		t.Fatalf("rendered %d releases in parallel and %d in sequence, want %d", len(got), len(want), len(env.Releases))
	}
	for i, r := range got {
		name := env.Releases[i].Name
		if r.name != name || r.namespace != "egov" {
			t.Errorf("index %d: release %s/%s, want egov/%s", i, r.namespace, r.name, name)
		}
		if len(r.objects) != 1 || r.objects[0].GetName() != name || r.objects[0].GetNamespace() != "egov" {
			t.Errorf("index %d: objects %v, want the ConfigMap egov/%s", i, r.objects, name)
		}
		if !reflect.DeepEqual(r.objects, want[i].objects) {
			t.Errorf("index %d: the parallel render differs from the sequential one", i)
		}
		if rec := r.record.GetName(); rec != "sh.helm.release.v1."+name+".v3" {
			t.Errorf("index %d: record %q, want release %s's at version 3", i, rec, name)
		}
	}
}

// TestRenderEnvironmentParallel_errors checks that a release that fails to
// render fails the pass and is named, and that an ended context ends it.
func TestRenderEnvironmentParallel_errors(t *testing.T) {
	chart := tinyChart(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		// ctx is the pass's context.
		ctx context.Context
		// env is what is rendered.
		env *manifest.Environment
		// workers is the pass's bound.
		workers int
		// want is in the error's text; is, when set, is in its chain.
		want string
		is   error
	}{
		{
			name: "one release fails", ctx: context.Background(), workers: 4,
			env:  tinyEnvironment(chart, 8, map[int]map[string]any{5: {"fail": true}}),
			want: `release "r5"`,
		},
		{
			name: "the first release fails, one worker", ctx: context.Background(), workers: 1,
			env:  tinyEnvironment(chart, 3, map[int]map[string]any{0: {"fail": true}}),
			want: `release "r0"`,
		},
		{
			name: "a missing chart", ctx: context.Background(), workers: 0,
			env:  &manifest.Environment{Releases: []manifest.ReleaseSpec{{Name: "gone", Chart: manifest.ChartRef{Path: filepath.Join(chart, "nowhere")}}}},
			want: `chart of release "gone"`,
		},
		{
			name: "context ended", ctx: cancelled, workers: 2,
			env: tinyEnvironment(chart, 4, nil),
			is:  context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := renderEnvironmentParallel(tt.ctx, tt.env, 1, tt.workers)
			if err == nil {
				t.Fatalf("rendered %d releases, want an error", len(out))
			}
			if out != nil {
				t.Errorf("output %d releases beside the error, want none", len(out))
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %s", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %v", err, tt.is)
			}
		})
	}
}
