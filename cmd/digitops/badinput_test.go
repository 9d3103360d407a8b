package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/digitops/digitops/internal/testenv"
)

// writeRepo writes files (path → content) into a new directory. A content
// "symlink:TARGET" makes a link, "fifo:" a named pipe.
func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for path, content := range files {
		p := filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasPrefix(content, "symlink:"):
			err = os.Symlink(strings.TrimPrefix(content, "symlink:"), p)
		case content == "fifo:":
			err = syscall.Mkfifo(p, 0o644)
		default:
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const okChart = "apiVersion: v2\nname: app\nversion: 0.1.0\n"
const okTemplate = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  x: {{ .Values.x | default \"1\" | quote }}\n"

// TestApply_badInputAppliesNothing: each bad input is one clear line naming
// the file (and line), exit code 1, and nothing in the cluster.
func TestApply_badInputAppliesNothing(t *testing.T) {
	env := testenv.ForTest(t, testenv.Options{})
	cs := kubernetes.NewForConfigOrDie(env.Config)
	chart := map[string]string{"charts/app/Chart.yaml": okChart, "charts/app/templates/cm.yaml": okTemplate}
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range chart {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name  string            // case
		files map[string]string // repository content
		env   string            // --env
		want  []string          // substrings of the one-line error
	}{
		{
			name:  "missing digitops.yaml",
			files: chart,
			env:   "dev",
			want:  []string{"digitops.yaml", "no configuration file"},
		},
		{
			name:  "unknown environment",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    releases:\n      - {name: a, chart: charts/app}\n"}),
			env:   "prod",
			want:  []string{"digitops.yaml", `unknown environment "prod"`, "dev"},
		},
		{
			name:  "chart that does not exist",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    releases:\n      - {name: a, chart: charts/app}\n      - {name: b, chart: charts/nope}\n"}),
			env:   "dev",
			want:  []string{"digitops.yaml:5", `release "b"`, `chart "charts/nope" does not exist`},
		},
		{
			name:  "needs cycle",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    releases:\n      - {name: a, chart: charts/app, needs: [c]}\n      - {name: b, chart: charts/app, needs: [a]}\n      - {name: c, chart: charts/app, needs: [b]}\n"}),
			env:   "dev",
			want:  []string{"digitops.yaml", "needs cycle: a -> c -> b -> a"},
		},
		{
			name:  "values file that is not YAML",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    releases:\n      - {name: a, chart: charts/app}\n      - {name: b, chart: charts/app, values: [values/b.yaml]}\n", "values/b.yaml": "x: 1\ny: [unclosed\n"}),
			env:   "dev",
			want:  []string{"values/b.yaml:", "invalid YAML"},
		},
		{
			name:  "values file linked outside the repository",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    releases:\n      - {name: a, chart: charts/app}\n      - {name: b, chart: charts/app, values: [values/b.yaml]}\n", "values/b.yaml": "symlink:/etc/passwd"}),
			env:   "dev",
			want:  []string{"values/b.yaml", "is a link to /etc/passwd, outside the repository"},
		},
		{
			name:  "values file linked to /dev/zero",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    releases:\n      - {name: b, chart: charts/app, values: [values/b.yaml]}\n", "values/b.yaml": "symlink:/dev/zero"}),
			env:   "dev",
			want:  []string{"values/b.yaml", "is a link to /dev/zero"},
		},
		{
			name:  "values file that is a FIFO",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    releases:\n      - {name: b, chart: charts/app, values: [values/b.yaml]}\n", "values/b.yaml": "fifo:"}),
			env:   "dev",
			want:  []string{"values/b.yaml", "is not a regular file (a named pipe)"},
		},
		{
			name:  "chart file linked outside the repository",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    releases:\n      - {name: a, chart: charts/app}\n", "charts/app/files/host.txt": "symlink:/etc/passwd"}),
			env:   "dev",
			want:  []string{`release "a"`, "charts/app/files/host.txt: is a link to /etc/passwd, outside the repository"},
		},
		{
			name:  "configuration linked outside the repository",
			files: with(map[string]string{"digitops.yaml": "symlink:/etc/passwd"}),
			env:   "dev",
			want:  []string{"digitops.yaml", "outside the repository"},
		},
		{
			name:  "unknown key in digitops.yaml",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    relases: []\n"}),
			env:   "dev",
			want:  []string{"digitops.yaml:3", "relases"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := writeRepo(t, tt.files)
			var out, errOut bytes.Buffer
			code := run(context.Background(), []string{"apply", "--repo", repo, "--env", tt.env, "--kubeconfig", env.Kubeconfig}, streams{in: strings.NewReader(""), out: &out, err: &errOut})
			if code != 1 {
				t.Fatalf("exit code = %d, want 1; stderr: %s", code, errOut.String())
			}
			msg := strings.TrimRight(errOut.String(), "\n")
			if strings.Contains(msg, "root:x:0:0") {
				t.Errorf("the error shows a host file: %s", msg)
			}
			if strings.Count(msg, "\n") != 0 {
				t.Errorf("error is not one line:\n%s", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			secrets, err := cs.CoreV1().Secrets("").List(context.Background(), metav1.ListOptions{LabelSelector: "owner=helm"})
			if err != nil {
				t.Fatal(err)
			}
			if len(secrets.Items) != 0 {
				t.Errorf("%d Helm releases exist after a bad input, want none", len(secrets.Items))
			}
		})
	}
}
