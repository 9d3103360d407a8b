package native

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	helmvalues "helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/getter"

	"github.com/digitops/digitops/source/manifest"
)

// TestValues_sameAsHelm: the values digitops merges from several files equal
// what `helm template -f a -f b` merges (helm's own values.Options).
func TestValues_sameAsHelm(t *testing.T) {
	repo := t.TempDir()
	files := map[string]string{
		"charts/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"a.yaml":                "image: {repository: egov-user, tag: v1}\nenv: {A: '1', B: '2'}\nlist: [1, 2]\nkeep: yes\nnested: {deep: {x: 1, y: 2}}\n",
		"b.yaml":                "image: {tag: v2}\nenv: {B: null}\nlist: [3]\nnested: {deep: {y: 3}}\nport: 8080\nratio: 0.5\nbig: 12345678901\n",
		"c.yaml":                "# only a comment\n",
	}
	for p, c := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(repo, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := manifest.ParseConfig("digitops.yaml", []byte("environments:\n  - name: dev\n    releases:\n      - {name: app, chart: charts/app, values: [a.yaml, b.yaml, c.yaml]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	rels, err := Layout{}.Releases(context.Background(), manifest.LayoutInput{RepoDir: repo, ConfigFile: "digitops.yaml", Env: cfg.Environments[0]})
	if err != nil {
		t.Fatal(err)
	}
	opts := helmvalues.Options{ValueFiles: []string{filepath.Join(repo, "a.yaml"), filepath.Join(repo, "b.yaml"), filepath.Join(repo, "c.yaml")}}
	want, err := opts.MergeValues(getter.Providers{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rels[0].Values; !reflect.DeepEqual(got, want) {
		t.Errorf("merged values differ from helm's:\n got  %#v\n want %#v", got, want)
	}
}
