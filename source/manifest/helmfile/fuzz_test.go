package helmfile

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/digitops/digitops/source/manifest"
)

// FuzzParseHelmfile feeds arbitrary helmfile text through rendering,
// parsing, and the release reading: it must return an error or releases,
// never panic.
func FuzzParseHelmfile(f *testing.F) {
	seeds := []string{
		"releases:\n  - name: a\n    chart: ./charts/app\n",
		"templates:\n  d: &d\n    namespace: egov\n    chart: ./{{`{{ .Release.Name }}`}}\nreleases:\n  - name: app\n    <<: *d\n",
		"environments:\n  default:\n    values:\n      - x: 1\n---\nreleases:\n  - name: a\n    chart: ./charts/app\n    installed: {{ eq .Values.x 1 }}\n",
		"helmfiles:\n  - path: sub.yaml\n    selectors: [a=b]\n",
		"releases:\n  - name: a\n    inherit:\n      - template: t\n        except: [values]\n",
		"values:\n  - a: {{ .Values | toYaml | quote }}\n",
		"releases:\n  - name: a\n    set:\n      - name: a.b\n        value: x,y\n",
		"<<: *x\n",
		"{{ define \"x\" }}{{ template \"x\" }}{{ end }}",
		"{{ define \"r\" }}\n  - name: r\n    chart: ./charts/app\n{{ end }}releases:\n{{- range until 2 }}{{ template \"r\" }}{{ end }}\n---\nvalues:\n  - a: \"\\x00digitops-line:7\\x00\"\n",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	repo := f.TempDir()
	if err := os.MkdirAll(filepath.Join(repo, "charts", "app"), 0o755); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "charts", "app", "Chart.yaml"), []byte("apiVersion: v2\nname: app\nversion: 0.1.0\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, content string) {
		if len(content) > 4096 {
			return
		}
		ctx := context.Background()
		l := &loader{in: manifest.LayoutInput{RepoDir: repo, ConfigFile: "digitops.yaml"}, log: quietLogger(), logged: map[string]bool{}}
		for _, name := range []string{"helmfile.yaml", "helmfile.yaml.gotmpl"} {
			st, err := l.loadContent(ctx, filepath.Join(repo, name), content, newEnv(defaultEnv, map[string]any{}))
			if err != nil {
				continue
			}
			for _, n := range st.releases {
				_ = l.release(ctx, st, n, nil)
			}
		}
	})
}
