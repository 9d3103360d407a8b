package repofs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// layout builds a repository beside a directory outside it.
func layout(t *testing.T) (repo, outside string) {
	t.Helper()
	base := t.TempDir()
	repo, outside = filepath.Join(base, "repo"), filepath.Join(base, "outside")
	for _, d := range []string{repo + "/charts/app/templates", outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(repo+"/values.yaml", "a: 1\n")
	write(repo+"/big.yaml", strings.Repeat("x", 2048))
	write(repo+"/charts/app/Chart.yaml", "name: app\n")
	write(outside+"/secret.txt", "host secret\n")
	link := func(target, p string) {
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	link("values.yaml", repo+"/inside-link.yaml")
	link(outside+"/secret.txt", repo+"/escape.yaml")
	link("../outside/secret.txt", repo+"/escape-relative.yaml")
	link("nowhere.yaml", repo+"/dangling.yaml")
	link("/dev/zero", repo+"/zero.yaml")
	if err := syscall.Mkfifo(repo+"/fifo.yaml", 0o644); err != nil {
		t.Fatal(err)
	}
	return repo, outside
}

func TestReadFile(t *testing.T) {
	repo, _ := layout(t)
	root, err := New(repo, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string // the file asked for
		want string // its content, or a part of the error
		ok   bool
	}{
		{"values.yaml", "a: 1\n", true},
		{filepath.Join(repo, "values.yaml"), "a: 1\n", true},
		{"inside-link.yaml", "a: 1\n", true},
		{"escape.yaml", "escape.yaml: is a link to ", false},
		{"escape-relative.yaml", "outside the repository", false},
		{"../outside/secret.txt", "is outside the repository", false},
		{"/etc/passwd", "is outside the repository", false},
		{"dangling.yaml", "dangling.yaml: is a link to nowhere.yaml, which does not exist", false},
		{"zero.yaml", "zero.yaml: is a link to /dev/zero, outside the repository", false},
		{"fifo.yaml", "fifo.yaml: is not a regular file (a named pipe)", false},
		{"big.yaml", "big.yaml: is larger than 1024 bytes", false},
		{"charts", "charts: is not a regular file (a directory)", false},
		{"missing.yaml", "missing.yaml: file does not exist", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			done := make(chan struct{})
			var data []byte
			var err error
			go func() { data, err = root.ReadFile(context.Background(), tt.path); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("ReadFile hangs")
			}
			if tt.ok {
				if err != nil || string(data) != tt.want {
					t.Fatalf("ReadFile = %q, %v; want %q", data, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ReadFile error = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "host secret") {
				t.Error("the error shows the file's content")
			}
		})
	}
	if _, err := root.ReadFile(context.Background(), "missing.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v, want fs.ErrNotExist", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := root.ReadFile(ctx, "values.yaml"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// writeTgz writes a gzipped tar of files (name → content) at path.
func writeTgz(t *testing.T, path string, files map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	write(path, buf.String())
}

// write writes content at path, making its directory.
func write(path, content string) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		panic(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		panic(err)
	}
}

func TestCheckTree(t *testing.T) {
	// deep opens 1,001 flow sequences (under the 1 KiB cap).
	deep := strings.Repeat("[", 1001) + "\n"
	tests := []struct {
		name  string                 // the case
		setup func(repo, out string) // what is added to charts/app
		want  string                 // a part of the error, "" for none
	}{
		{"plain chart", func(string, string) {}, ""},
		{"link inside", func(repo, _ string) { os.Symlink("../../values.yaml", repo+"/charts/app/values.yaml") }, ""},
		{"file link outside", func(repo, out string) { os.Symlink(out+"/secret.txt", repo+"/charts/app/files.txt") }, "charts/app/files.txt: is a link to "},
		{"dir link outside", func(repo, out string) { os.Symlink(out, repo+"/charts/app/templates/more") }, "charts/app/templates/more: is a link to "},
		{"device", func(repo, _ string) { os.Symlink("/dev/zero", repo+"/charts/app/zero") }, "outside the repository"},
		{"fifo", func(repo, _ string) { syscall.Mkfifo(repo+"/charts/app/templates/pipe", 0o644) }, "charts/app/templates/pipe: is not a regular file"},
		{"link loop", func(repo, _ string) { os.Symlink(".", repo+"/charts/app/templates/self") }, "too many levels of links"},
		{"deep values.yaml", func(repo, _ string) { write(repo+"/charts/app/values.yaml", "a: 1\nx: "+deep) }, "charts/app/values.yaml:2: YAML nested deeper than 1000 levels"},
		{"deep Chart.yaml", func(repo, _ string) { write(repo+"/charts/app/Chart.yaml", "name: app\nx: "+deep) }, "charts/app/Chart.yaml:2: YAML nested deeper"},
		{"deep values.yaml through a link", func(repo, _ string) {
			write(repo+"/deep.yaml", deep)
			os.Symlink("../../deep.yaml", repo+"/charts/app/values.yaml")
		}, "charts/app/values.yaml:1: YAML nested deeper"},
		{"deep YAML in a subchart", func(repo, _ string) { write(repo+"/charts/app/charts/sub/values.yaml", deep) }, "charts/app/charts/sub/values.yaml:1: YAML nested deeper"},
		{"deep template", func(repo, _ string) { write(repo+"/charts/app/templates/x.yaml", deep) }, ""},
		{"dependency missing from charts/", func(repo, _ string) {
			write(repo+"/charts/app/Chart.yaml", "name: app\ndependencies:\n  - name: lib\n    repository: file://../lib\n  - name: redis\n    repository: https://u:pw@charts.example.org\n")
		}, `charts/app/Chart.yaml:5: dependency "redis" (https://charts.example.org) is not in charts/app/charts`},
		{"OCI dependency missing from charts/", func(repo, _ string) {
			write(repo+"/charts/app/Chart.yaml", "name: app\ndependencies:\n  - name: common\n    repository: oci://registry-1.docker.io/bitnamicharts\n")
			write(repo+"/charts/app/charts/_common/Chart.yaml", "name: common\n")
		}, `charts/app/Chart.yaml:3: dependency "common"`},
		{"dependency in a directory of charts/", func(repo, _ string) {
			write(repo+"/charts/app/Chart.yaml", "name: app\ndependencies:\n  - name: common\n    repository: https://charts.bitnami.com/bitnami\n")
			write(repo+"/charts/app/charts/common-dir/Chart.yaml", "name: common\n")
		}, ""},
		{"dependency in an archive of charts/", func(repo, _ string) {
			write(repo+"/charts/app/Chart.yaml", "name: app\ndependencies:\n  - name: redis\n    alias: cache\n    repository: https://charts.example.org\n")
			writeTgz(t, repo+"/charts/app/charts/redis-1.0.0.tgz", map[string]string{"redis/values.yaml": "a: 1\n", "redis/Chart.yaml": "name: redis\n"})
		}, ""},
		{"deep Chart.yaml in an archive of charts/", func(repo, _ string) {
			write(repo+"/charts/app/Chart.yaml", "name: app\ndependencies:\n  - name: redis\n    repository: https://charts.example.org\n")
			writeTgz(t, repo+"/charts/app/charts/redis-1.0.0.tgz", map[string]string{"redis/Chart.yaml": "name: redis\nx: " + deep})
		}, "charts/app/charts/redis-1.0.0.tgz/Chart.yaml:2: YAML nested deeper"},
		{"requirements.yaml replaces the dependencies", func(repo, _ string) {
			write(repo+"/charts/app/Chart.yaml", "apiVersion: v1\nname: app\ndependencies:\n  - name: gone\n    repository: https://charts.example.org\n")
			write(repo+"/charts/app/requirements.yaml", "dependencies:\n  - name: redis\n    repository: https://charts.example.org\n")
		}, `charts/app/requirements.yaml:2: dependency "redis"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo, out := layout(t)
			tt.setup(repo, out)
			root, err := New(repo, 1024)
			if err != nil {
				t.Fatal(err)
			}
			err = root.CheckTree(context.Background(), filepath.Join(repo, "charts/app"))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("CheckTree: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("CheckTree error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
