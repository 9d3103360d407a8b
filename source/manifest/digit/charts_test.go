package digit_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/digitops/digitops/source/manifest/digit"
)

// TestIndexCharts_asTheDeployer: the index follows the Go deployer's walk.
func TestIndexCharts_asTheDeployer(t *testing.T) {
	tests := []struct {
		name  string            // the case
		files []string          // files to create under the charts dir
		want  map[string]string // instance name -> chart dir (relative)
		alias map[string]string // instance name -> its <name>-values.yaml, when it has one
		dups  map[string][]string
		noYML []string // instances whose dir has no Chart.yaml
	}{
		{
			name:  "a folder with values.yaml is a chart",
			files: []string{"core/egov-mdms/values.yaml", "core/egov-mdms/Chart.yaml"},
			want:  map[string]string{"egov-mdms": "core/egov-mdms"},
		},
		{
			name:  "a <name>-values.yaml names a chart where the folder has no values.yaml",
			files: []string{"core/egov-user/egov-user-values.yaml", "core/egov-user/Chart.yaml", "core/egov-user/chatbot-values.yaml"},
			want:  map[string]string{"egov-user": "core/egov-user", "chatbot": "core/egov-user"},
			alias: map[string]string{"egov-user": "core/egov-user/egov-user-values.yaml", "chatbot": "core/egov-user/chatbot-values.yaml"},
		},
		{
			name:  "alias instances beside values.yaml",
			files: []string{"es/elasticsearch/values.yaml", "es/elasticsearch/Chart.yaml", "es/elasticsearch/elasticsearch-data-v1-values.yaml"},
			want:  map[string]string{"elasticsearch": "es/elasticsearch", "elasticsearch-data-v1": "es/elasticsearch"},
			alias: map[string]string{"elasticsearch-data-v1": "es/elasticsearch/elasticsearch-data-v1-values.yaml"},
		},
		{
			name:  "a name found twice: the last one walked wins",
			files: []string{"a/redis/values.yaml", "a/redis/Chart.yaml", "b/redis/values.yaml", "b/redis/Chart.yaml"},
			want:  map[string]string{"redis": "b/redis"},
			dups:  map[string][]string{"redis": {"a/redis", "b/redis"}},
		},
		{
			name:  "subcharts are walked too, and hidden folders are not",
			files: []string{"x/app/values.yaml", "x/app/Chart.yaml", "x/app/charts/common/values.yaml", ".git/y/values.yaml"},
			want:  map[string]string{"app": "x/app", "common": "x/app/charts/common"},
			noYML: []string{"common"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tt.files {
				p := filepath.Join(dir, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("{}\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			idx, err := digit.IndexCharts(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			rel := func(p string) string {
				r, _ := filepath.Rel(dir, p)
				return filepath.ToSlash(r)
			}
			got, alias := map[string]string{}, map[string]string{}
			var noYML []string
			for name, in := range idx.Instances {
				got[name] = rel(in.Dir)
				if in.AliasValues != "" {
					alias[name] = rel(in.AliasValues)
				}
				if in.NoChartYAML {
					noYML = append(noYML, name)
				}
			}
			dups := map[string][]string{}
			for name, ds := range idx.Dups {
				for _, d := range ds {
					dups[name] = append(dups[name], rel(d))
				}
			}
			sort.Strings(noYML)
			for what, pair := range map[string][2]any{
				"instances": {got, tt.want}, "aliases": {alias, orEmpty(tt.alias)}, "dups": {dups, orEmptyList(tt.dups)},
			} {
				if !reflect.DeepEqual(pair[0], pair[1]) {
					t.Errorf("%s = %v, want %v", what, pair[0], pair[1])
				}
			}
			if !reflect.DeepEqual(noYML, tt.noYML) {
				t.Errorf("no Chart.yaml: %v, want %v", noYML, tt.noYML)
			}
		})
	}
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func orEmptyList(m map[string][]string) map[string][]string {
	if m == nil {
		return map[string][]string{}
	}
	return m
}
