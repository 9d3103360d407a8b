package reconciler

import (
	"context"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart"
)

// TestRendersMayVary: a chart is rendered a second time, in a later
// second, only when its templates, a tpl value or a file tpl reads can
// render differently: the clock, randomness, generated keys, live reads.
func TestRendersMayVary(t *testing.T) {
	common := stampLibrary()
	plainLib := testChart(map[string]string{"templates/_helpers.tpl": `{{ define "name" }}{{ .Chart.Name }}{{ end }}`}, nil)
	tests := []struct {
		name      string
		templates map[string]string
		files     map[string]string
		deps      []*chart.Chart
		values    map[string]any
		want      bool
	}{
		{name: "values and names only", templates: map[string]string{"templates/cm.yaml": `data: {a: {{ .Values.a | quote }}, n: {{ include "name" . }}}`}, deps: []*chart.Chart{plainLib}},
		{name: "now", templates: map[string]string{"templates/cm.yaml": `t: {{ now | quote }}`}, want: true},
		{name: "DIGIT's deployment-timestamp in a library subchart", templates: map[string]string{"templates/d.yaml": `{{ include "common.deployment" . }}`}, deps: []*chart.Chart{common}, want: true},
		{name: "a random password", templates: map[string]string{"templates/s.yaml": `p: {{ randAlphaNum 16 | b64enc }}`}, want: true},
		{name: "a generated certificate in an if", templates: map[string]string{"templates/s.yaml": `{{ if .Values.tls }}{{ $ca := genCA "x" 365 }}{{ $ca.Cert }}{{ end }}`}, want: true},
		{name: "lookup", templates: map[string]string{"templates/s.yaml": `{{ lookup "v1" "Secret" "a" "b" }}`}, want: true},
		{name: "the words in text, comments and strings", templates: map[string]string{"templates/cm.yaml": "# now and then, date of the update\nx: {{ \"now\" }}\n{{/* randAlpha */}}\n"}},
		{name: "a tpl value that calls now", templates: map[string]string{"templates/cm.yaml": `x: {{ tpl .Values.x . }}`}, values: map[string]any{"x": `{{ now }}`}, want: true},
		{name: "a value that calls now, though no template calls tpl", templates: map[string]string{"templates/cm.yaml": `x: 1`}, values: map[string]any{"x": []any{`{{ now }}`}}, want: true},
		{name: "a file tpl renders that calls now", templates: map[string]string{"templates/cm.yaml": `x: {{ tpl (.Files.Get "conf/app.conf") . }}`}, files: map[string]string{"conf/app.conf": `started={{ now }}`}, want: true},
		{name: "a file naming now with no tpl call", templates: map[string]string{"templates/cm.yaml": `x: {{ .Files.Get "conf/app.conf" | quote }}`}, files: map[string]string{"conf/app.conf": `started={{ now }}`}},
		{name: "a template that does not parse and names one", templates: map[string]string{"templates/cm.yaml": `{{ now `}, want: true},
	}
	t.Run("a chart's default value tpl renders that calls now", func(t *testing.T) {
		c := testChart(map[string]string{"templates/cm.yaml": `x: {{ tpl .Values.x . }}`}, nil)
		c.Values = map[string]any{"x": `{{ now }}`}
		if !rendersMayVary(c, nil) {
			t.Error("rendersMayVary = false")
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rendersMayVary(testChart(tt.templates, tt.files, tt.deps...), tt.values); got != tt.want {
				t.Errorf("rendersMayVary = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestWaitSecondAfter: a second render waits only until the wall-clock
// second after the first render's, not a whole second from now.
func TestWaitSecondAfter(t *testing.T) {
	t.Parallel() // it waits for the next second
	ctx := t.Context()
	start := time.Now()
	if !waitSecondAfter(ctx, start.Add(-2*time.Second)) {
		t.Fatal("waitSecondAfter of a time two seconds ago = false")
	}
	if waited := time.Since(start); waited > 50*time.Millisecond {
		t.Errorf("waited %v for a second that had come", waited)
	}
	before := time.Now()
	if !waitSecondAfter(ctx, before) {
		t.Fatal("waitSecondAfter(now) = false")
	}
	if after := time.Now(); after.Truncate(time.Second).Equal(before.Truncate(time.Second)) {
		t.Errorf("waitSecondAfter(%v) returned within the same second, at %v", before, after)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if waitSecondAfter(cancelled, time.Now()) {
		t.Error("waitSecondAfter with an ended context = true")
	}
	if waitSecondAfter(cancelled, time.Now().Add(-2*time.Second)) {
		t.Error("waitSecondAfter with an ended context, second come = true")
	}
}
