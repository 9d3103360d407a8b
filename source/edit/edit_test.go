package edit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/digitops/digitops/source/manifest"
)

// writeFiles writes files (path relative to a new directory: content) and
// returns the directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestSetImageTags_helmfile edits an environment values file in place:
// the tag paths are set where they are, image.tag is added where it is
// not, and every other byte stays.
func TestSetImageTags_helmfile(t *testing.T) {
	tests := []struct {
		name string
		// env is the environment values file; want it after the edit, or
		// wantErr in the error.
		env, want, wantErr string
	}{
		{
			name: "both tag paths set, comments kept",
			env:  "egov-user:\n  image:\n    tag: v1 # app\n  initContainers:\n    dbMigration:\n      image:\n        tag: 'v1'\n",
			want: "egov-user:\n  image:\n    tag: v2.0 # app\n  initContainers:\n    dbMigration:\n      image:\n        tag: 'v2.0'\n",
		},
		{
			name: "tag added under an existing image",
			env:  "egov-user:\n  image:\n    repository: egovio/egov-user\nother: {}\n",
			want: "egov-user:\n  image:\n    repository: egovio/egov-user\n    tag: v2.0\nother: {}\n",
		},
		{
			name: "image added at the end of a file without a newline",
			env:  "egov-user:\n  replicas: 2",
			want: "egov-user:\n  replicas: 2\n  image:\n    tag: v2.0\n",
		},
		{
			name:    "flow image is refused",
			env:     "egov-user:\n  image: {repository: x}\n",
			wantErr: "env.yaml:2: image: is not a block mapping; set image.tag by hand once",
		},
		{
			name:    "unknown name",
			env:     "pgr-services:\n  replicas: 1\n",
			wantErr: "unknown service(s) egov-user in ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"env.yaml": tt.env})
			opts := Options{RepoDir: dir, File: "env.yaml", Env: manifest.EnvironmentConfig{Name: "dev", Layout: manifest.LayoutHelmfile, Helmfile: "helmfile.yaml"}}
			files, err := SetImageTags(context.Background(), opts, []Image{{Name: "egov-user", Tag: "v2.0"}})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != 1 {
				t.Fatalf("%d files, want 1", len(files))
			}
			if got := string(files[0].Bytes()); got != tt.want {
				t.Errorf("edited file:\n%s\nwant:\n%s", got, tt.want)
			}
			if string(files[0].Original()) != tt.env {
				t.Error("Original is not the file as read")
			}
		})
	}
}

// TestSetImageTags_maxFileSize: every file set-image reads goes through the
// repository's size cap, and the refusal names the file.
func TestSetImageTags_maxFileSize(t *testing.T) {
	big := "# " + strings.Repeat("x", 200) + "\n"
	tests := []struct {
		name string
		// files is the repository; env the environment to edit.
		files map[string]string
		env   manifest.EnvironmentConfig
		// file is Options.File; wantFile the file the error names.
		file, wantFile string
	}{
		{
			name:     "digit release chart",
			files:    map[string]string{"charts/release-chart.yaml": big + "modules: []\n"},
			env:      manifest.EnvironmentConfig{Name: "dev", Layout: manifest.LayoutDigit, ReleaseChart: "charts/release-chart.yaml"},
			wantFile: "charts/release-chart.yaml",
		},
		{
			name: "native values file",
			files: map[string]string{
				"digitops.yaml":         "environments:\n  - name: dev\n    releases:\n      - name: egov-user\n        values: [values/egov-user.yaml]\n",
				"values/egov-user.yaml": big + "image: {tag: v1}\n",
			},
			env:      manifest.EnvironmentConfig{Name: "dev", Layout: manifest.LayoutNative},
			wantFile: "values/egov-user.yaml",
		},
		{
			name:     "helmfile --file",
			files:    map[string]string{"helmfile.yaml": "releases: []\n", "environments/dev.yaml": big + "egov-user: {}\n"},
			env:      manifest.EnvironmentConfig{Name: "dev", Layout: manifest.LayoutHelmfile, Helmfile: "helmfile.yaml"},
			file:     "environments/dev.yaml",
			wantFile: "environments/dev.yaml",
		},
		{
			name:     "helmfile environment file search",
			files:    map[string]string{"helmfile.yaml": "releases: []\n", "environments/dev.yaml": big + "egov-user: {}\n"},
			env:      manifest.EnvironmentConfig{Name: "dev", Layout: manifest.LayoutHelmfile, Helmfile: "helmfile.yaml"},
			wantFile: "environments/dev.yaml",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			opts := Options{RepoDir: dir, ConfigPath: filepath.Join(dir, "digitops.yaml"), Env: tt.env, File: tt.file, MaxFileSize: 128}
			_, err := SetImageTags(context.Background(), opts, []Image{{Name: "egov-user", Tag: "v2"}})
			want := tt.wantFile + ": is larger than 128 bytes"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %v, want it to contain %q", err, want)
			}
			// The same repository under the default cap is read.
			opts.MaxFileSize = 0
			if _, err := SetImageTags(context.Background(), opts, []Image{{Name: "egov-user", Tag: "v2"}}); err != nil && strings.Contains(err.Error(), "larger than") {
				t.Errorf("default cap: %v", err)
			}
		})
	}
}
