package reconciler

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/digitops/digitops/source/manifest"
)

// TestShiftTemplateClock: every read of the clock moves ahead by
// clockShift, a date given to a date function is checked by type as
// sprig does, and the rest of the template is as it was.
func TestShiftTemplateClock(t *testing.T) {
	const (
		shifted = `(dateModify "+9529h1m1s" now)`
		types   = `(list "time.Time" "*time.Time" "int" "int32" "int64")`
	)
	checked := func(d string) string {
		return `(ternary ` + d + ` ` + shifted + ` (has (typeOf ` + d + `) ` + types + `))`
	}
	tests := []struct {
		name string
		in   string // the template
		want string // the template rewritten
	}{
		{name: "now alone", in: `a: {{ now }}`, want: `a: {{dateModify "+9529h1m1s" now}}`},
		{name: "now piped to date", in: `a: {{ now | date "2006" }}`, want: `a: {{date "2006" ` + shifted + `}}`},
		{name: "DIGIT's deployment-timestamp", in: `ts: "{{ date "20060102150405" .Release.Time }}"`,
			want: `ts: "{{date "20060102150405" ` + checked(".Release.Time") + `}}"`},
		{name: "a date given down the pipeline", in: `b: {{ .Release.Time | date "2006" | quote }}`,
			want: `b: {{date "2006" ` + checked("(.Release.Time)") + ` | quote}}`},
		{name: "dateInZone, its zone piped", in: `c: {{ "UTC" | dateInZone "2006" .x }}`,
			want: `c: {{"UTC" | dateInZone "2006" ` + checked(".x") + `}}`},
		{name: "htmlDate both ways", in: `d: {{ htmlDate .x }} {{ .x | htmlDate }}`,
			want: `d: {{htmlDate ` + checked(".x") + `}} {{htmlDate ` + checked("(.x)") + `}}`},
		{name: "a define, a variable, an else if", in: "{{- define \"x\" -}}{{ now | unixEpoch }}{{- end }}\ne: {{ include \"x\" . }}\n{{ if .a }}{{ $t := now }}{{ $t.Year }}{{ else if .b }}z{{ end }}",
			want: "\ne: {{include \"x\" .}}\n{{if .a}}{{$t := dateModify \"+9529h1m1s\" now}}{{$t.Year}}{{else}}{{if .b}}z{{end}}{{end}}" +
				`{{define "x"}}{{dateModify "+9529h1m1s" now | unixEpoch}}{{end}}`},
		{name: "now in a chain, a number for a date, no clock", in: `f: {{ (now).Year }} {{ date "2006" 0 }} {{ .Values.x | default "y" }}`,
			want: `f: {{` + shifted + `.Year}} {{date "2006" ` + checked("0") + `}} {{.Values.x | default "y"}}`},
		{name: "now given as the date", in: `g: {{ date "2006" now }}`, want: `g: {{date "2006" ` + shifted + `}}`},
		{name: "a method of now", in: `h: {{ now.Unix }}`, want: `h: {{` + shifted + `.Unix}}`},
		{name: "a brace before a trimmed action", in: "server {\n  {{- if .x }}{{ now }}{{ end }}\n}",
			want: "server {{\"{\"}}{{if .x}}{{dateModify \"+9529h1m1s\" now}}{{end}}\n}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := shiftTemplateClock("t", tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !parses(got) {
				t.Errorf("shiftTemplateClock(%q) = %q, which does not parse", tt.in, got)
			}
			if got != tt.want {
				t.Errorf("shiftTemplateClock(%q)\n got %s\nwant %s", tt.in, got, tt.want)
			}
		})
	}
	if _, err := shiftTemplateClock("templates/cm.yaml", `{{ now `); err == nil || !strings.Contains(err.Error(), "templates/cm.yaml") {
		t.Errorf("a template that does not parse: err = %v, want one naming it", err)
	}
}

// testChart builds a chart of templates and files (by name, in name
// order), with deps as its subcharts.
func testChart(templates, files map[string]string, deps ...*chart.Chart) *chart.Chart {
	c := &chart.Chart{Metadata: &chart.Metadata{Name: "svc", Version: "0.1.0", APIVersion: chart.APIVersionV2}}
	for _, name := range slices.Sorted(maps.Keys(templates)) {
		c.Templates = append(c.Templates, &chart.File{Name: name, Data: []byte(templates[name])})
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		c.Files = append(c.Files, &chart.File{Name: name, Data: []byte(files[name])})
	}
	c.SetDependencies(deps...)
	return c
}

// TestClockShifted: a chart gets a shifted copy when every read of the
// clock is one the copy moves; no copy when it reads none; and none when
// the clock is read where a rewrite can't reach (ago, a template tpl
// renders from values, files or strings) or a template does not parse.
func TestClockShifted(t *testing.T) {
	tests := []struct {
		name      string
		templates map[string]string
		files     map[string]string
		deps      []*chart.Chart
		values    map[string]any
		want      string // "copy", "same" (no template reads the clock) or "none" (not shiftable)
	}{
		{name: "values only", templates: map[string]string{"templates/cm.yaml": `a: {{ .Values.a }}`}, want: "same"},
		{name: "randomness only", templates: map[string]string{"templates/s.yaml": `p: {{ randAlphaNum 8 }}`}, want: "same"},
		{name: "DIGIT's timestamp in a library subchart", templates: map[string]string{"templates/d.yaml": `{{ include "common.deployment" . }}`}, deps: []*chart.Chart{stampLibrary()}, want: "copy"},
		{name: "ago", templates: map[string]string{"templates/cm.yaml": `a: {{ ago .Values.t }}`}, want: "none"},
		{name: "durationRound in a subchart", templates: map[string]string{"templates/cm.yaml": `a: 1`},
			deps: []*chart.Chart{testChart(map[string]string{"templates/x.yaml": `{{ durationRound .Values.t }}`}, nil)}, want: "none"},
		{name: "a tpl value that reads the clock", templates: map[string]string{"templates/cm.yaml": `x: {{ tpl .Values.x . }}`}, values: map[string]any{"x": `{{ now }}`}, want: "none"},
		{name: "a value that reads the clock, no tpl", templates: map[string]string{"templates/cm.yaml": `x: {{ now }}`}, values: map[string]any{"x": `{{ now }}`}, want: "copy"},
		{name: "a file tpl renders", templates: map[string]string{"templates/cm.yaml": `x: {{ tpl (.Files.Get "app.conf") . }}`}, files: map[string]string{"app.conf": `at={{ now }}`}, want: "none"},
		{name: "a string tpl renders", templates: map[string]string{"templates/cm.yaml": `x: {{ tpl "{{ now }}" . }}`}, want: "none"},
		{name: "a string tpl renders, built", templates: map[string]string{"templates/cm.yaml": `x: {{ tpl (printf "{{ %s }}" "now") . }}`}, want: "none"},
		{name: "a define's text tpl renders", templates: map[string]string{"templates/cm.yaml": `{{ define "t" }}{{ "{{" }} now {{ "}}" }}{{ end }}x: {{ tpl (include "t" .) . }}`}, want: "none"},
		{name: "a file that only says update", templates: map[string]string{"templates/cm.yaml": `x: {{ tpl (.Files.Get "a.txt") . }} {{ now }}`}, files: map[string]string{"a.txt": `{{ .Values.update }}`}, want: "copy"},
		{name: "a README that is no template", templates: map[string]string{"templates/cm.yaml": `x: {{ tpl .Values.x . }} {{ now }}`},
			files: map[string]string{"README.md": "for now: `{{ .Values.a \\| quote }}` | an update"}, want: "copy"},
		{name: "a line of a file that is no template", templates: map[string]string{"templates/cm.yaml": `x: {{ tpl .Values.x . }} {{ now }}`},
			files: map[string]string{"conf.txt": "a={{ now }}\nb={{ .x \\| quote }}"}, want: "none"},
		{name: "a template that does not parse", templates: map[string]string{"templates/cm.yaml": `{{ now `}, want: "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testChart(tt.templates, tt.files, tt.deps...)
			before := templatesOf(c)
			got, ok := clockShifted(c, tt.values)
			switch {
			case tt.want == "none" && ok, tt.want != "none" && !ok:
				t.Fatalf("clockShifted ok = %v, want %s", ok, tt.want)
			case tt.want == "same" && got != c, tt.want == "copy" && got == c:
				t.Fatalf("clockShifted returned the chart itself: %v, want %s", got == c, tt.want)
			}
			if after := templatesOf(c); !slices.Equal(before, after) {
				t.Errorf("clockShifted changed the chart's templates:\n%q\nto\n%q", before, after)
			}
			if tt.want == "copy" && slices.Equal(templatesOf(got), before) {
				t.Errorf("the copy reads the same clock: %q", templatesOf(got))
			}
		})
	}
}

// stampLibrary is a library chart, common, whose deployment template
// stamps DIGIT's deployment-timestamp as the real common chart does.
func stampLibrary() *chart.Chart {
	c := testChart(map[string]string{"templates/_deployment.yaml": `{{- define "common.deployment" }}deployment-timestamp: "{{ date "20060102150405" .Release.Time }}"{{ end }}`}, nil)
	c.Metadata.Name = "common"
	return c
}

// templatesOf are the texts of c's templates and its subcharts'.
func templatesOf(c *chart.Chart) []string {
	var out []string
	for _, t := range c.Templates {
		out = append(out, t.Name+"\n"+string(t.Data))
	}
	for _, d := range c.Dependencies() {
		out = append(out, templatesOf(d)...)
	}
	return out
}

// clockChart is a service chart with a library subchart, the clock read
// as DIGIT's common chart reads it and in the other ways charts do,
// beside fields no clock reaches.
func clockChart() *chart.Chart {
	lib := testChart(map[string]string{"templates/_stamp.tpl": `{{- define "lib.stamp" -}}{{ date "20060102150405" .Release.Time }}{{- end }}`}, nil)
	lib.Metadata.Name, lib.Metadata.Type = "lib", "library"
	return testChart(map[string]string{
		"templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: svc}}
  template:
    metadata:
      labels: {app: svc}
      annotations:
        deployment-timestamp: "{{ include "lib.stamp" . }}"
    spec:
      containers: [{name: svc, image: "svc:{{ .Values.tag }}"}]
`,
		"templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: svc
data:
  day: {{ now | date "2006-01-02" | quote }}
  epoch: {{ date "2006" 0 | quote }}
  given: {{ toDate "2006-01-02" "2020-05-01" | date "2006" | quote }}
  unix: {{ .Values.since | date "2006" | quote }}
  tag: {{ .Values.tag | quote }}
  conf: |
    server {
      {{- if .Values.tag }} tag {{ .Values.tag }};{{ end }}
    }
`,
	}, nil, lib)
}

// TestClockShifted_renders: the shifted copy, rendered at once, differs
// from the chart's render exactly where the clock is read; a date given
// as a time or a number renders as it did.
func TestClockShifted_renders(t *testing.T) {
	ctx := context.Background()
	c := clockChart()
	spec := manifest.ReleaseSpec{Name: "svc", Namespace: "egov", Values: map[string]any{"replicas": 2, "tag": "v1", "since": 1600000000}}
	first, err := Render(ctx, spec, c, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc, ok := clockShifted(c, spec.MergedValues())
	if !ok {
		t.Fatal("clockShifted = false")
	}
	again, err := Render(ctx, spec, sc, RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ConfigMap/egov/svc /data/day",
		"Deployment/egov/svc /spec/template/metadata/annotations/deployment-timestamp",
	}
	if got := nondeterministicPaths(first, again, spec.Namespace); !slices.Equal(got, want) {
		t.Errorf("the shifted render differs at %q, want %q\nfirst:\n%s\nshifted:\n%s", got, want, first, again)
	}
	// The stamp reads the clock shifted: a year and more ahead.
	i := strings.Index(again, `deployment-timestamp: "`)
	if i < 0 {
		t.Fatalf("no deployment-timestamp in\n%s", again)
	}
	stamp, err := time.ParseInLocation("20060102150405", again[i+len(`deployment-timestamp: "`):][:14], time.Local)
	if err != nil {
		t.Fatal(err)
	}
	shift, _ := time.ParseDuration(clockShift)
	if ahead := time.Until(stamp); ahead < shift-time.Minute || ahead > shift+time.Minute {
		t.Errorf("the shifted stamp %v is %v ahead, want %v", stamp, ahead, shift)
	}
	if bytes.Contains([]byte(first), []byte(stamp.Format("20060102150405"))) {
		t.Errorf("the first render has the shifted stamp too")
	}
}

// TestRendersAgain_clockShifted: the second render of a chart whose clock
// can be shifted is the shifted one (its stamp a year and more ahead, no
// wait for the next second); a chart whose clock can't be shifted is
// rendered again on the real clock, in a later second.
func TestRendersAgain_clockShifted(t *testing.T) {
	ctx := context.Background()
	values := map[string]any{"replicas": 2, "tag": "v1", "since": 1}
	agoChart := testChart(map[string]string{"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: old}\ndata:\n  at: {{ now | date \"20060102150405\" | quote }}\n  age: {{ ago .Values.since | quote }}\n"}, nil)
	var steps []*Step
	for _, c := range []*chart.Chart{clockChart(), agoChart} {
		st := &Step{Release: manifest.ReleaseSpec{Name: "svc", Namespace: "egov", Values: values}, Action: ActionUpgrade, chart: c}
		m, err := Render(ctx, st.Release, c, RenderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st.rendered, st.renderedAt = m, time.Now()
		steps = append(steps, st)
	}
	renderedAt := time.Now()
	again := (&Planner{}).rendersAgain(ctx, steps)
	shift, _ := time.ParseDuration(clockShift)
	// year is the year of the stamp after prefix in m.
	year := func(m, prefix string) int {
		i := strings.Index(m, prefix)
		if i < 0 || len(m) < i+len(prefix)+14 {
			t.Fatalf("no %s stamp in\n%s", prefix, m)
		}
		stamp := m[i+len(prefix) : i+len(prefix)+14]
		ts, err := time.ParseInLocation("20060102150405", stamp, time.Local)
		if err != nil {
			t.Fatalf("stamp %q: %v", stamp, err)
		}
		return ts.Year()
	}
	if got, want := year(again[0], `deployment-timestamp: "`), renderedAt.Add(shift).Year(); got != want {
		t.Errorf("the shiftable chart's second render stamps year %d, want %d (shifted):\n%s", got, want, again[0])
	}
	if got, want := year(again[1], `at: "`), renderedAt.Year(); got != want || !strings.Contains(again[1], "age:") {
		t.Errorf("the chart that calls ago: second render stamps year %d, want %d (the real clock):\n%s", got, want, again[1])
	}
	if paths := nondeterministicPaths(steps[1].rendered, again[1], "egov"); !slices.Contains(paths, "ConfigMap/egov/old /data/at") {
		t.Errorf("the chart that calls ago: its second render, on the real clock, differs at %q: not in a later second", paths)
	}
}
