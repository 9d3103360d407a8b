package reconciler

import (
	"encoding/base64"
	"reflect"
	"slices"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
)

func TestLookupCalls(t *testing.T) {
	sub := &chart.Chart{Metadata: &chart.Metadata{Name: "db", Version: "0.1.0"}, Templates: []*chart.File{
		{Name: "templates/secret.yaml", Data: []byte(`{{- with (lookup "v1" "Secret" .Release.Namespace "db") }}{{ .data.password }}{{ end }}`)},
	}}
	tests := []struct {
		name      string
		templates map[string]string
		// deps are subcharts; values the release's values.
		deps   []*chart.Chart
		values map[string]any
		want   []string
	}{
		{
			name:      "a call in an action",
			templates: map[string]string{"templates/cm.yaml": `data: {p: {{ (lookup "v1" "Secret" "vault" "db-root").data.password }}}`},
			want:      []string{"templates/cm.yaml"},
		},
		{
			name:      "a call in an if, a define, a range",
			templates: map[string]string{"templates/_helpers.tpl": `{{ define "x" }}{{ range (lookup "v1" "ConfigMap" "" "").items }}{{ .metadata.name }}{{ end }}{{ end }}`, "templates/a.yaml": `{{ if lookup "v1" "Namespace" "" "egov" }}x: 1{{ end }}`},
			want:      []string{"templates/_helpers.tpl", "templates/a.yaml"},
		},
		{
			name:      "the word in text, a comment or a string is no call",
			templates: map[string]string{"templates/a.yaml": "# lookup the host\nhost: {{ .Values.lookup | quote }}\n{{/* lookup */}}\nx: {{ \"lookup\" }}\n"},
		},
		{
			name:      "a subchart's call is named under charts/",
			templates: map[string]string{"templates/a.yaml": "x: 1"},
			deps:      []*chart.Chart{sub},
			want:      []string{"charts/db/templates/secret.yaml"},
		},
		{
			name:      "a value rendered with tpl",
			templates: map[string]string{"templates/a.yaml": `x: {{ tpl .Values.x . }}`},
			values:    map[string]any{"nested": []any{map[string]any{"x": `{{ (lookup "v1" "Secret" "a" "b").data }}`}}},
			want:      []string{"values"},
		},
		{
			name:      "a template that does not parse and names it counts",
			templates: map[string]string{"templates/a.yaml": `{{ lookup "v1" "Secret" "a" "b" `},
			want:      []string{"templates/a.yaml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := LookupCalls(testChart(tt.templates, nil, tt.deps...), tt.values)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("LookupCalls = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadObject(t *testing.T) {
	tests := []struct {
		path, resource, object string
		ok                     bool
	}{
		{path: "/api/v1/namespaces/vault/secrets/db-root", resource: "secrets", object: "secrets vault/db-root", ok: true},
		{path: "/api/v1/namespaces/vault/secrets", resource: "secrets", object: "secrets vault/*", ok: true},
		{path: "/api/v1/namespaces/egov", resource: "namespaces", object: "namespaces egov", ok: true},
		{path: "/apis/apps/v1/namespaces/egov/deployments/x", resource: "deployments", object: "deployments egov/x", ok: true},
		{path: "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin", resource: "clusterroles", object: "clusterroles admin", ok: true},
		{path: "/api/v1"},
		{path: "/apis/apps/v1"},
		{path: "/apis"},
		{path: "/version"},
	}
	for _, tt := range tests {
		resource, object, ok := readObject(tt.path)
		if resource != tt.resource || object != tt.object || ok != tt.ok {
			t.Errorf("readObject(%q) = %q, %q, %v; want %q, %q, %v", tt.path, resource, object, ok, tt.resource, tt.object, tt.ok)
		}
	}
}

func TestSecretValuesOf(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte("s3cr3t-root"))
	got := secretValuesOf([]byte(`{"kind":"SecretList","items":[{"data":{"password":"` + b64 + `"}}]}`))
	if !slices.Contains(got, b64) || !slices.Contains(got, "s3cr3t-root") {
		t.Errorf("values of a list = %q, want the base64 value and its decoding", got)
	}
	got = secretValuesOf([]byte(`{"kind":"Secret","data":{"a":"` + b64 + `"},"stringData":{"b":"plain-value"}}`))
	if !slices.Contains(got, "s3cr3t-root") || !slices.Contains(got, "plain-value") {
		t.Errorf("values of a Secret = %q", got)
	}
}
