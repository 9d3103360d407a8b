package reconciler

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/Masterminds/sprig/v3"
)

// FuzzShiftTemplateClock: the rewrite moves the clock and nothing else.
// A template that parses is rewritten without error, and with dateModify
// made the identity (the shift undone) the rewritten template renders
// exactly as the template does, or fails as it does. Seeds: the rewrite
// table, every template of examples/ and the corpus's DIGIT common chart.
func FuzzShiftTemplateClock(f *testing.F) {
	for _, seed := range []string{
		`a: {{ now }}`,
		`ts: "{{ date "20060102150405" .Release.Time }}"`,
		`b: {{ .Release.Time | date "2006" | quote }} {{ "UTC" | dateInZone "2006" .x }} {{ .x | htmlDate }}`,
		"{{- define \"x\" -}}{{ now | unixEpoch }}{{- end }}\ne: {{ include \"x\" . }}\n{{ if .a }}{{ $t := now }}{{ $t.Year }}{{ else if .b }}z{{ end }}",
		"server {\n  {{- if .x }}{{ now }}{{ end }}\n}",
		"{ {{- /* c */ -}} { {{ now }}",
		`{{ with .a }}{{ . }}{{ else with .b }}{{ . }}{{ else }}none{{ end }}{{ date "2006" 0 }}`,
		`{{ range $i, $v := .list }}{{ if eq $i 1 }}{{ break }}{{ end }}{{ $v }}{{ continue }}{{ end }}{{ now.Unix }}`,
		`{{ block "b" . }}x{{ now | date "15" }}{{ end }}{{ "{{" }}{{ ` + "`raw {{ now }}`" + ` }}`,
		"{{- $d := .Release.Time -}}\n{{ $d = now }}{{ date \"2006\" $d | quote }}",
	} {
		f.Add(seed)
	}
	// Each template of a chart after its own library templates (_*.tpl,
	// _*.yaml) and those of the common chart beside it, as DIGIT's charts
	// include them, so that its includes resolve.
	for _, root := range []string{"../examples", "../../shared/digit-devops-corpus/unified-env/deploy-as-code/helm/charts"} {
		libs, tpls := map[string][]string{}, map[string][]string{}
		common := map[string]string{} // chart dir of a common chart → its root's key
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			dir, ok := strings.CutSuffix(filepath.Dir(path), string(filepath.Separator)+"templates")
			if !ok {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil || len(b) > 64<<10 {
				return err
			}
			if filepath.Base(dir) == "common" {
				common[dir] = string(b)
			}
			if strings.HasPrefix(d.Name(), "_") {
				libs[dir] = append(libs[dir], string(b))
			} else {
				tpls[dir] = append(tpls[dir], string(b))
			}
			return nil
		})
		if err != nil {
			f.Logf("seeds: %s not read (%v)", root, err)
			continue
		}
		n := 0
		dirs := slices.Sorted(maps.Keys(tpls))
		if testing.Short() && len(dirs) > 20 {
			// -short: every 12th chart (all 256 take 2.5 s more).
			dirs = slices.Collect(func(yield func(string) bool) {
				for i := 0; i < len(dirs); i += 12 {
					if !yield(dirs[i]) {
						return
					}
				}
			})
		}
		for _, dir := range dirs {
			ts := tpls[dir]
			lib := libs[dir]
			if filepath.Base(dir) != "common" {
				for c := range common {
					lib = append(lib, libs[c]...)
					break
				}
			}
			for _, t := range ts {
				f.Add(strings.Join(lib, "\n") + "\n" + t)
				n++
			}
		}
		f.Logf("seeds: %d templates of %d of %d charts from %s", n, len(dirs), len(tpls), root)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 512<<10 {
			return
		}
		// Not a template Helm would take, as file t.
		if _, err := parseTemplate("t", text); err != nil {
			return
		}
		got, err := shiftTemplateClock("t", text)
		if err != nil {
			t.Fatalf("a template that parses is not rewritten: %v\n%s", err, text)
		}
		want, wantErr := renderFixedClock(text)
		have, haveErr := renderFixedClock(got)
		if (wantErr == nil) != (haveErr == nil) || want != have {
			t.Errorf("the rewritten template renders otherwise with the shift undone\ntemplate:  %q\nrewritten: %q\nrender:    %q (%v)\nrewritten: %q (%v)", text, got, want, wantErr, have, haveErr)
		}
	})
}

// renderFixedClock renders a template with sprig's functions and stand-ins
// for Helm's, the clock fixed and every random function constant, and
// dateModify the identity: the shifted clock reads as the real one.
func renderFixedClock(text string) (string, error) {
	clock := time.Date(2026, 12, 6, 10, 20, 30, 0, time.UTC)
	sprigFuncs := sprig.TxtFuncMap()
	dateInZone := sprigFuncs["dateInZone"].(func(string, any, string) string)
	// sprig's date functions take time.Now() for a date that is not one.
	fixed := func(d any) any {
		switch d.(type) {
		case time.Time, *time.Time, int, int32, int64:
			return d
		}
		return clock
	}
	tmpl := template.New("t").Option("missingkey=default")
	funcs := template.FuncMap{
		"now":            func() time.Time { return clock },
		"dateModify":     func(_ string, d time.Time) time.Time { return d },
		"date":           func(f string, d any) string { return dateInZone(f, fixed(d), "UTC") },
		"dateInZone":     func(f string, d any, z string) string { return dateInZone(f, fixed(d), z) },
		"date_in_zone":   func(f string, d any, z string) string { return dateInZone(f, fixed(d), z) },
		"htmlDate":       func(d any) string { return dateInZone("2006-01-02", fixed(d), "UTC") },
		"htmlDateInZone": func(d any, z string) string { return dateInZone("2006-01-02", fixed(d), z) },
		"include": func(name string, data any) (string, error) {
			var b strings.Builder
			err := tmpl.ExecuteTemplate(&b, name, data)
			return b.String(), err
		},
		"tpl":      func(s string, _ any) string { return s },
		"required": func(_ string, v any) any { return v },
		"toYaml":   func(v any) string { return fmt.Sprint(v) },
		"fromYaml": func(s string) map[string]any { return map[string]any{"s": s} },
		"toJson":   func(v any) string { return fmt.Sprint(v) },
		"lookup":   func(...any) map[string]any { return map[string]any{} },
	}
	for _, name := range variableFuncs() {
		if _, ok := funcs[name]; !ok && !clockFuncs().has(name) {
			funcs[name] = func(...any) string { return "constant" }
		}
	}
	funcs["ago"] = func(any) string { return "1h" }
	funcs["durationRound"] = func(any) string { return "1h" }
	for name, fn := range sprigFuncs {
		if _, ok := funcs[name]; !ok {
			funcs[name] = fn
		}
	}
	if _, err := tmpl.Funcs(funcs).Parse(text); err != nil {
		return "", err
	}
	data := map[string]any{
		"Values":  map[string]any{"a": "x", "replicas": 2, "list": []any{"p", "q"}},
		"Release": map[string]any{"Name": "svc", "Namespace": "egov"},
		"Chart":   map[string]any{"Name": "svc"},
		"a":       "x", "list": []any{"p", "q", "r"}, "x": 1600000000,
	}
	var b strings.Builder
	err := tmpl.Execute(&b, data)
	return b.String(), err
}
