package helmfile

import (
	"testing"
)

// TestReleases_escapedTemplates checks that every templating pass renders
// the text as written, as helmfile v0 does: the escape {{`{{ ... }}`}} is
// undone once, so templates meant for the chart or for Alertmanager reach
// the release's values as written.
func TestReleases_escapedTemplates(t *testing.T) {
	tests := []struct {
		name string
		// files are the repository's files besides digitops.yaml and
		// charts/app; helmfile.yaml is the root helmfile.
		files map[string]string
		// release is the release whose values are checked.
		release string
		// path is a dotted path in its values.
		path string
		// want is the string at path.
		want string
	}{
		{
			name: "escape in inline values is undone once",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n    chart: ./charts/app\n    values:\n" +
				"      - greeting: A {{`{{ \"hello\" | upper }}`}} B\n"},
			release: "a",
			path:    "greeting",
			want:    `A {{ "hello" | upper }} B`,
		},
		{
			name: "Alertmanager template in inline values of a second document",
			files: map[string]string{"helmfile.yaml": "environments:\n  default:\n    values:\n      - team: core\n---\n" +
				"releases:\n  - name: a\n    chart: ./charts/app\n    values:\n" +
				"      - alertmanager:\n          text: '{{ .Values.team }}: {{`{{ .Labels.alertname }}`}} on {{`{{ .Labels.instance }}`}}'\n"},
			release: "a",
			path:    "alertmanager.text",
			want:    "core: {{ .Labels.alertname }} on {{ .Labels.instance }}",
		},
		{
			name: "Alertmanager template in a .gotmpl values file, rendered once",
			files: map[string]string{
				"helmfile.yaml":  "releases:\n  - name: a\n    chart: ./charts/app\n    values:\n      - am.yaml.gotmpl\n",
				"am.yaml.gotmpl": "alertmanager:\n  text: '{{ .Release.Name }}: {{`{{ .Labels.x }}`}}'\n",
			},
			release: "a",
			path:    "alertmanager.text",
			want:    "a: {{ .Labels.x }}",
		},
		{
			name: "escaped template of an environment .gotmpl file through toYaml",
			files: map[string]string{
				"helmfile.yaml":   "environments:\n  default:\n    values:\n      - env.yaml.gotmpl\n---\nreleases:\n  - name: a\n    chart: ./charts/app\n    values:\n      - {{ .Values | toYaml | nindent 8 }}\n",
				"env.yaml.gotmpl": "alert: '{{`{{ .Labels.x }}`}}'\n",
			},
			release: "a",
			path:    "alert",
			want:    "{{ .Labels.x }}",
		},
		{
			name: "chart template in a plain environment file through toYaml (DIGIT's microservice)",
			files: map[string]string{
				"helmfile.yaml": "environments:\n  default:\n    values:\n      - env.yaml\n---\nreleases:\n  - name: a\n    chart: ./charts/app\n    values:\n      - {{ .Values | toYaml | nindent 8 }}\n",
				"env.yaml":      "microservice: |\n  egov.collection.version={{ index .Values \"collection-version\" }}\n",
			},
			release: "a",
			path:    "microservice",
			want:    "egov.collection.version={{ index .Values \"collection-version\" }}\n",
		},
		{
			name: "set is not rendered again per release",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n    chart: ./charts/app\n    set:\n" +
				"      - name: text\n        value: '{{`{{ .Release.Name }}`}}'\n"},
			release: "a",
			path:    "text",
			want:    "{{ .Release.Name }}",
		},
		{
			name: "valuesTemplate mappings are rendered per release",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n    chart: ./charts/app\n    valuesTemplate:\n" +
				"      - fullname: '{{`{{ .Release.Name }}`}}-x'\n"},
			release: "a",
			path:    "fullname",
			want:    "a-x",
		},
		{
			name: "valuesTemplate comes before values, as in helmfile",
			files: map[string]string{"helmfile.yaml": "releases:\n  - name: a\n    chart: ./charts/app\n" +
				"    values:\n      - x: from-values\n    valuesTemplate:\n      - x: from-template\n"},
			release: "a",
			path:    "x",
			want:    "from-values",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := writeRepo(t, tt.files, "")
			rels, err := loadEnv(t, repo, "test", nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rels {
				if r.Name != tt.release {
					continue
				}
				got, err := get(tt.path, r.Values)
				if err != nil {
					t.Fatalf("values %v: %v", r.Values, err)
				}
				if got != tt.want {
					t.Errorf("%s = %q, want %q", tt.path, got, tt.want)
				}
				return
			}
			t.Fatalf("no release %q in %+v", tt.release, rels)
		})
	}
}

// TestRenderRelease_eachPassRendersTheFieldsAsWritten checks the release
// fields, which helmfile renders once more with .Release: each pass starts
// from the fields as the file's templating left them, so a field is
// rendered once per release, however many passes .Release needs.
func TestRenderRelease_eachPassRendersTheFieldsAsWritten(t *testing.T) {
	tests := []struct {
		name string
		// label is the value of the label "x" as written in the helmfile.
		label string
		// want is the label once loaded.
		want string
	}{
		{
			name:  "one escape: rendered with the file, then per release",
			label: "A {{`{{ \"hello\" | upper }}`}} B",
			want:  "A HELLO B",
		},
		{
			name:  "the output of the release pass is not rendered again",
			label: "'{{`{{ \"{{ .Release.Name }}\" }}`}}'",
			want:  "{{ .Release.Name }}",
		},
		{
			name:  ".Release.Name from the rendered name",
			label: "'{{`{{ .Release.Name }}`}}'",
			want:  "app-1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"helmfile.yaml": "releases:\n  - name: app-{{`{{ add 0 1 }}`}}\n    chart: ./charts/app\n    labels:\n      x: " + tt.label + "\n"}
			repo := writeRepo(t, files, "")
			rels, err := loadEnv(t, repo, "test", nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(rels) != 1 || rels[0].Name != "app-1" {
				t.Fatalf("releases %+v, want app-1", rels)
			}
			if got := rels[0].Labels["x"]; got != tt.want {
				t.Errorf("label x = %q, want %q", got, tt.want)
			}
		})
	}
}
