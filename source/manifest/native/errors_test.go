package native_test

import (
	"context"
	"strings"
	"testing"

	"github.com/digitops/digitops/internal/fsutil"
	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/loader"
)

// TestReleases_badNames: release names and namespaces Helm or Kubernetes
// would refuse are refused at load, naming the file, line and release.
func TestReleases_badNames(t *testing.T) {
	tests := []struct {
		release string // the release entry in digitops.yaml
		want    string // a part of the error, "" for none
	}{
		{"{name: egov-user, chart: charts/app}", ""},
		{"{name: egov-user.v2, chart: charts/app, namespace: egov}", ""},
		{"{name: Egov_User, chart: charts/app}", `digitops.yaml:4: release "Egov_User": "Egov_User" is not a valid Helm release name`},
		{"{name: " + strings.Repeat("a", 54) + ", chart: charts/app}", "is not a valid Helm release name"},
		{"{name: ../x, chart: charts/app}", `"../x" is not a valid Helm release name`},
		{"{name: -x, chart: charts/app}", "is not a valid Helm release name"},
		{"{name: x, chart: charts/app, namespace: Egov}", `digitops.yaml:4: release "x": namespace "Egov" is not valid`},
		{"{name: x, chart: charts/app, namespace: a.b}", `namespace "a.b" is not valid`},
		{"{name: x, chart: charts/app, namespace: " + strings.Repeat("n", 64) + "}", "must be no more than 63 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.release, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{
				"digitops.yaml":         "environments:\n  - name: dev\n    releases:\n      - " + tt.release + "\n",
				"charts/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n",
			}
			if err := fsutil.WriteFiles(dir, files); err != nil {
				t.Fatal(err)
			}
			_, err := loader.Environment(context.Background(), loader.Options{RepoDir: dir, Secrets: manifest.SecretsDecrypt}, "dev")
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("load: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("load error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
