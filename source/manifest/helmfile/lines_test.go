package helmfile

import (
	"reflect"
	"testing"
)

func TestRenderLines(t *testing.T) {
	tests := []struct {
		name string
		// text is the template, starting on line offset+1 of its file.
		text   string
		offset int
		// data is the template's data.
		data any
		// want is the output, which must be what render returns.
		want string
		// lines are the file's lines of the output's lines.
		lines []int
	}{
		{
			name:  "no actions",
			text:  "a: 1\nb: 2\n",
			want:  "a: 1\nb: 2\n",
			lines: []int{1, 2, 3},
		},
		{
			name:   "an action writes several lines: each is the action's line",
			text:   "a:\n  - {{ .l | toYaml | nindent 4 }}\nb: 2\n",
			offset: 10,
			data:   map[string]any{"l": []any{1, 2}},
			want:   "a:\n  - \n    - 1\n    - 2\n    \nb: 2\n",
			lines:  []int{11, 12, 12, 12, 12, 13, 14},
		},
		{
			name:  "a range repeats the lines of its body",
			text:  "l:\n{{- range .l }}\n  - {{ . }}\n{{- end }}\nz: 0",
			data:  map[string]any{"l": []any{"x", "y"}},
			want:  "l:\n  - x\n  - y\nz: 0",
			lines: []int{1, 3, 3, 5},
		},
		{
			name:  "a defined template's text keeps its own lines",
			text:  "{{ define \"t\" }}\nin: t\n{{ end }}a: 1\n{{- template \"t\" }}b: 2\n",
			want:  "a: 1\nin: t\nb: 2\n",
			lines: []int{3, 2, 4, 5},
		},
		{
			name:  "a comment over several lines",
			text:  "{{/*\n\n*/}}a: 1\n",
			want:  "a: 1\n",
			lines: []int{3, 4},
		},
		{
			name:  "NUL bytes of the data are kept",
			text:  "a: {{ .s }}\nb: 1\n",
			data:  map[string]any{"s": "\x00x\x00digitops-line:\x00"},
			want:  "a: \x00x\x00digitops-line:\x00\nb: 1\n",
			lines: []int{1, 2, 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &renderer{file: "f.yaml"}
			out, lines, err := r.renderLines(tt.text, tt.data, offsetLines(tt.offset))
			if err != nil {
				t.Fatal(err)
			}
			if out != tt.want {
				t.Errorf("output %q, want %q", out, tt.want)
			}
			if !reflect.DeepEqual(lines, tt.lines) {
				t.Errorf("lines %v, want %v", lines, tt.lines)
			}
			plain, err := r.render(tt.text, tt.data, offsetLines(tt.offset))
			if err != nil || plain != out {
				t.Errorf("render: %q, %v; renderLines: %q", plain, err, out)
			}
		})
	}
}
