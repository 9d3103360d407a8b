package reconciler

import (
	"context"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// serviceChart is a DIGIT-shaped chart: a service on a common library,
// with output that holds template delimiters and a document separator in
// a block scalar's neighbourhood.
func serviceChart(extra ...*chart.File) *chart.Chart {
	common := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: "v2", Name: "common", Version: "1.0.0"},
		Templates: []*chart.File{
			{Name: "templates/_helpers.tpl", Data: []byte(`{{- define "common.name" -}}{{ default .Chart.Name .Values.name }}{{- end -}}`)},
			{Name: "templates/sa.yaml", Data: []byte("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: shared\n")},
		},
	}
	c := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: "v2", Name: "egov-user", Version: "0.1.0", Dependencies: []*chart.Dependency{{Name: "common", Version: "1.0.0"}}},
		Values:   map[string]any{"replicas": 1},
		Templates: append([]*chart.File{
			{Name: "templates/deployment.yaml", Data: []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "common.name" . }}
  annotations: {stamp: {{ now | date "20060102150405" | quote }}}
spec:
  replicas: {{ .Values.replicas }}
  template:
    metadata:
      labels: {app: {{ include "common.name" . }}}
`)},
			{Name: "templates/config.yaml", Data: []byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "common.name" . }}
data:
  tmpl: {{ "{{ .NotATemplate }} \" back\\slash" | quote }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "common.name" . }}-2
data:
  script: |
    echo one
    echo two
`)},
		}, extra...),
	}
	c.SetDependencies(common)
	return c
}

// Helm, running the planned chart, renders exactly the plan's render.
func TestPlannedChart_rendersThePlan(t *testing.T) {
	ctx := context.Background()
	spec := manifest.ReleaseSpec{Name: "egov-user", Namespace: "egov", Values: map[string]any{"name": "egov-user", "replicas": 2}}
	c := serviceChart()
	rendered, err := Render(ctx, spec, c, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	step := &Step{Release: spec, chart: c, rendered: rendered}
	planned := plannedChart(step)
	if planned == nil {
		t.Fatal("plannedChart = nil for a chart Helm renders as the plan does")
	}
	if planned.Metadata.Name != "egov-user" || planned.Metadata.Version != "0.1.0" || len(planned.Metadata.Dependencies) != 0 || planned.Values["replicas"] != 1 {
		t.Errorf("planned chart metadata %+v, values %v: want the chart's own, without dependencies", planned.Metadata, planned.Values)
	}
	if c.Metadata.Dependencies == nil {
		t.Error("plannedChart changed the chart's own metadata")
	}
	// A render later (another second): still the plan's, stamp included.
	if !waitSecondAfter(ctx, time.Now()) {
		t.Fatal("context ended")
	}
	again, err := Render(ctx, spec, planned, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again != rendered {
		t.Errorf("the planned chart renders\n%s\nwant the plan's render\n%s", again, rendered)
	}
	for _, want := range []string{`tmpl: "{{ .NotATemplate }} \" back\\slash"`, "  script: |\n    echo one\n    echo two", "# Source: egov-user/charts/common/templates/sa.yaml"} {
		if !strings.Contains(again, want) {
			t.Errorf("render lacks %q:\n%s", want, again)
		}
	}
}

// Charts whose render at install may differ from the plan's are rendered
// by Helm as usual.
func TestPlannedChart_fallsBack(t *testing.T) {
	tpl := func(name, data string) *chart.File { return &chart.File{Name: name, Data: []byte(data)} }
	tests := []struct {
		name  string
		chart *chart.Chart
		step  func(*Step)
	}{
		{name: "hooks come from the values", chart: serviceChart(), step: func(st *Step) { st.renderedHooks = "---\n# Source: svc/templates/job.yaml\nkind: Job\n" }},
		{name: "a value rendered with tpl looks live objects up", chart: serviceChart(tpl("templates/t.yaml", `{{ tpl .Values.extra . }}`)), step: func(st *Step) {
			st.Release.Values = map[string]any{"extra": `{{ (lookup "v1" "Secret" "egov" "x").data }}`}
		}},
		{name: "lookup", chart: serviceChart(tpl("templates/s.yaml", `{{ $s := lookup "v1" "Secret" "egov" "x" }}`))},
		{name: "revision", chart: serviceChart(tpl("templates/r.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: r, labels: {rev: \"{{ .Release.Revision }}\"}}\n"))},
		{name: "hooks", chart: serviceChart(tpl("templates/job.yaml", "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations: {helm.sh/hook: pre-upgrade}\n"))},
		{name: "notes", chart: serviceChart(tpl("templates/NOTES.txt", "installed"))},
		{name: "CRDs", chart: func() *chart.Chart {
			c := serviceChart()
			c.Files = append(c.Files, tpl("crds/thing.yaml", "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: things.example.com}\n"))
			return c
		}()},
		{name: "not rendered", chart: serviceChart(), step: func(st *Step) { st.rendered = "" }},
		{name: "too large", chart: serviceChart(), step: func(st *Step) { st.rendered += strings.Repeat("#", maxPlannedChart) }},
		{name: "a document without its source", chart: serviceChart(), step: func(st *Step) { st.rendered += "---\nkind: ConfigMap\n" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &Step{Release: manifest.ReleaseSpec{Name: "egov-user", Namespace: "egov"}, chart: tt.chart, rendered: "---\n# Source: egov-user/templates/deployment.yaml\nkind: Deployment\n"}
			if tt.step != nil {
				tt.step(st)
			}
			if c := plannedChart(st); c != nil {
				t.Errorf("plannedChart = %v templates, want nil", len(c.Templates))
			}
		})
	}
}

// Where Helm renders the chart again (a chart the plan's render cannot
// stand for), a render that differs from the plan's is noted on the result.
func TestAppliedRenderNote(t *testing.T) {
	t.Parallel() // it waits for the next second
	ctx := context.Background()
	spec := manifest.ReleaseSpec{Name: "egov-user", Namespace: "egov", Values: map[string]any{"name": "egov-user"}}
	c := serviceChart()
	planned, err := Render(ctx, spec, c, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	step := &Step{Release: spec, chart: c, rendered: planned}
	if note := appliedRenderNote(step, planned); note != "" {
		t.Errorf("the plan's own render noted: %q", note)
	}
	if !waitSecondAfter(ctx, time.Now()) {
		t.Fatal("context ended")
	}
	helms, err := Render(ctx, spec, c, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := "release egov-user renders differently on every run at Deployment/egov/egov-user /metadata/annotations/stamp"
	if note := appliedRenderNote(step, helms); !strings.Contains(note, want) {
		t.Errorf("note = %q, want it to contain %q", note, want)
	}
}

// A template that asks for API versions is installed from the plan's
// render: the plan renders online with exactly the cluster's versions.
func TestPlannedChart_asksForAPIVersions(t *testing.T) {
	for _, data := range []string{
		`{{ if .Capabilities.APIVersions.Has "policy/v1beta1" }}apiVersion: policy/v1beta1{{ end }}`,
		`{{ range .Capabilities.APIVersions }}{{ end }}`,
	} {
		c := serviceChart(&chart.File{Name: "templates/pdb.yaml", Data: []byte(data)})
		st := &Step{Release: manifest.ReleaseSpec{Name: "egov-user", Namespace: "egov"}, chart: c, rendered: "---\n# Source: egov-user/templates/pdb.yaml\napiVersion: policy/v1\n"}
		if plannedChart(st) == nil {
			t.Errorf("plannedChart = nil for %s", data)
		}
	}
}

func TestRenderOptions_isUpgradeAsHelmActs(t *testing.T) {
	for _, tt := range []struct {
		action Action
		live   *kube.LiveRelease
		want   bool
	}{
		{ActionInstall, nil, false},
		{ActionInstall, &kube.LiveRelease{LastDeployed: 0}, false},
		{ActionUpgrade, &kube.LiveRelease{LastDeployed: 3}, true},
		{ActionUpgrade, &kube.LiveRelease{LastDeployed: 0}, true}, // a failed takeover, upgraded in place
		{ActionUnlock, &kube.LiveRelease{LastDeployed: 2}, true},
		{ActionUnlock, &kube.LiveRelease{LastDeployed: 0}, false},
	} {
		if got := renderOptions(nil, "", &Step{Action: tt.action, Live: tt.live}).IsUpgrade; got != tt.want {
			t.Errorf("%s with %+v: IsUpgrade = %v, want %v", tt.action, tt.live, got, tt.want)
		}
	}
}
