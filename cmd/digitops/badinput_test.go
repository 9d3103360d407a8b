package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/digitops/digitops/internal/testenv"
	"github.com/digitops/digitops/source/manifest/sops/sopstest"
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

// Limits of one bad input: digitops must give up within caseTimeout and
// allocate less than caseMaxAlloc doing so.
const (
	caseTimeout  = 20 * time.Second
	caseMaxAlloc = 1 << 30
)

// planted are values a bad input must never make digitops print: a line of
// the host's /etc/passwd, and a credential of digitops itself.
const (
	hostContent = "root:x:0:0"
	apiToken    = "tok-5ab1e-never-printed"
)

// billionLaughs is YAML whose aliases expand to 9^9 strings.
const billionLaughs = `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`

// nonUTF8 is Latin-1 text, not UTF-8 ("café" with é as 0xE9), the fault
// on line 3.
const nonUTF8 = "a: 1\nb: 2\nx: caf\xe9\n"

// binary is the start of a gzip file: NUL and control bytes.
const binary = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x00\x01\xff\xfe"

// TestApply_badInputAppliesNothing: each bad input is one clear line naming
// the file (and line, and release where there is one), exit code 1, no
// panic, bounded time and memory, and nothing in the cluster.
func TestApply_badInputAppliesNothing(t *testing.T) {
	env := testenv.ForTest(t, testenv.Options{})
	cs := kubernetes.NewForConfigOrDie(env.Config)
	encSecrets, err := os.ReadFile("../../examples/digit/deploy-as-code/helm/environments/demo-secrets.enc.yaml")
	if err != nil {
		t.Fatal(err)
	}

	// merge returns the union of the maps, later ones winning.
	merge := func(ms ...map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	chart := map[string]string{"charts/app/Chart.yaml": okChart, "charts/app/templates/cm.yaml": okTemplate}
	with := func(extra map[string]string) map[string]string { return merge(chart, extra) }
	// native is a native environment dev whose release i (a YAML flow
	// mapping) is on line 3+i of digitops.yaml, plus extra files.
	native := func(extra map[string]string, releases ...string) map[string]string {
		cfg := "environments:\n  - name: dev\n    releases:\n"
		for _, r := range releases {
			cfg += "      - " + r + "\n"
		}
		return merge(chart, map[string]string{"digitops.yaml": cfg}, extra)
	}
	// digit is a digit environment dev (digitops.yaml line 2) with one
	// module m_a and one service, the chart app; envExtra is appended to
	// the environment entry.
	digitConfig := func(envExtra string) string {
		return "environments:\n  - name: dev\n    layout: digit\n    chartsDir: charts\n    envFile: env.yaml\n    releaseChart: release.yaml\n" + envExtra
	}
	digit := func(envExtra string, extra map[string]string) map[string]string {
		return merge(chart, map[string]string{
			"charts/app/values.yaml": "x: \"1\"\n",
			"env.yaml":               "global:\n  domain: example.org\n",
			"release.yaml":           "modules:\n  - name: m_a\n    services:\n      - example/app:1.0\n",
			"digitops.yaml":          digitConfig(envExtra),
		}, extra)
	}
	// clusterConfigs adds a cluster-configs chart and a secrets file
	// (content secrets) to a digit environment.
	clusterConfigs := func(secrets string) map[string]string {
		return digit("    secretsFile: secrets.yaml\n    clusterConfigs: true\n", map[string]string{
			"charts/cluster-configs/Chart.yaml":        "apiVersion: v2\nname: cluster-configs\nversion: 0.1.0\n",
			"charts/cluster-configs/values.yaml":       "{}\n",
			"charts/cluster-configs/templates/cm.yaml": okTemplate,
			"secrets.yaml": secrets,
		})
	}
	// helmfile is a helmfile environment dev reading helmfile.yaml (the
	// given text), with the chart at ./charts/app, plus extra files.
	helmfile := func(text string, extra map[string]string) map[string]string {
		return merge(chart, map[string]string{
			"digitops.yaml": "environments:\n  - name: dev\n    layout: helmfile\n    helmfile: helmfile.yaml\n",
			"helmfile.yaml": text,
		}, extra)
	}
	// outsideChart makes a valid chart outside the repository and links
	// charts/ext to it.
	outsideChart := func(t *testing.T, repo string) string {
		out := writeRepo(t, map[string]string{"Chart.yaml": okChart, "templates/cm.yaml": okTemplate})
		if err := os.Symlink(out, filepath.Join(repo, "charts/ext")); err != nil {
			t.Fatal(err)
		}
		return repo
	}
	// huge writes a 17 MiB YAML file at name, over the 16 MiB cap.
	huge := func(name string) func(t *testing.T, repo string) string {
		return func(t *testing.T, repo string) string {
			line := "k: " + strings.Repeat("v", 60) + "\n"
			data := bytes.Repeat([]byte("# "+line), (17<<20)/(len(line)+2)+1)
			if err := os.WriteFile(filepath.Join(repo, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
			return repo
		}
	}
	// committed makes the repository a Git repository with one commit on
	// main, and reads it through Git.
	committed := func(t *testing.T, repo string) string {
		dir, _ := gitRepoFrom(t, repo)
		return dir
	}

	tests := []struct {
		name  string            // case
		files map[string]string // repository content (see writeRepo)
		// setup, when set, runs after the files are written, adds what the
		// map cannot hold, and returns the --repo to pass (repo itself
		// unless the case reads another place).
		setup func(t *testing.T, repo string) string
		env   string            // --env; empty: no --env flag
		args  []string          // more arguments
		vars  map[string]string // environment variables
		want  []string          // substrings of the one-line error
	}{
		// The configuration file.
		{
			name:  "missing digitops.yaml",
			files: chart,
			env:   "dev",
			want:  []string{"digitops.yaml", "no configuration file"},
		},
		{
			name:  "empty digitops.yaml",
			files: with(map[string]string{"digitops.yaml": ""}),
			env:   "dev",
			want:  []string{"digitops.yaml", "empty configuration"},
		},
		{
			name:  "no environments",
			files: with(map[string]string{"digitops.yaml": "environments: []\n"}),
			env:   "dev",
			want:  []string{"digitops.yaml", "no environments"},
		},
		{
			name:  "YAML syntax error",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    releases: [\n"}),
			env:   "dev",
			want:  []string{"digitops.yaml:3", "invalid YAML"},
		},
		{
			name:  "tab indentation",
			files: with(map[string]string{"digitops.yaml": "environments:\n\t- name: dev\n"}),
			env:   "dev",
			want:  []string{"digitops.yaml:2", "invalid YAML"},
		},
		{
			name:  "second YAML document",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    releases:\n      - {name: a, chart: charts/app}\n---\nenvironments: []\n"}),
			env:   "dev",
			want:  []string{"digitops.yaml:5", "a second YAML document"},
		},
		{
			name:  "unknown environment",
			files: native(nil, "{name: a, chart: charts/app}"),
			env:   "prod",
			want:  []string{"digitops.yaml", `unknown environment "prod"`, "dev"},
		},
		{
			name:  "environment without a name",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - layout: native\n"}),
			env:   "dev",
			want:  []string{"digitops.yaml:2", "environment without a name"},
		},
		{
			name:  "environment name that climbs",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: ../../etc\n"}),
			env:   "../../etc",
			want:  []string{"digitops.yaml:2", `environment name "../../etc" is not valid`},
		},
		{
			name:  "environment name with HTML",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: \"<b>dev</b>\"\n"}),
			env:   "<b>dev</b>",
			want:  []string{"digitops.yaml:2", `environment name "<b>dev</b>" is not valid`},
		},
		{
			name:  "environment name over 63 characters",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: " + strings.Repeat("e", 70) + "\n"}),
			env:   strings.Repeat("e", 70),
			want:  []string{"digitops.yaml:2", "environment name", "at most 63 lowercase letters"},
		},
		{
			name:  "environment declared twice",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n  - name: dev\n"}),
			env:   "dev",
			want:  []string{"digitops.yaml:3", `environment "dev" is declared twice (first on line 2)`},
		},
		{
			name:  "unknown layout",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    layout: kustomize\n"}),
			env:   "dev",
			want:  []string{"digitops.yaml:2", `unknown layout "kustomize"`},
		},
		{
			name:  "unknown key in digitops.yaml",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    relases: []\n"}),
			env:   "dev",
			want:  []string{"digitops.yaml:3", "relases"},
		},
		{
			name:  "unknown key in a release",
			files: native(nil, "{name: a, chrat: charts/app}"),
			env:   "dev",
			want:  []string{"digitops.yaml:4", "chrat"},
		},
		{
			name:  "unknown key in sync",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    sync:\n      prun: true\n"}),
			env:   "dev",
			want:  []string{"digitops.yaml:4", "prun"},
		},
		{
			name:  "releases is a string",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    releases: x\n"}),
			env:   "dev",
			want:  []string{"digitops.yaml:3", "invalid YAML", "cannot unmarshal", "NativeRelease"},
		},
		{
			name:  "needs is a number",
			files: native(nil, "{name: a, chart: charts/app, needs: 5}"),
			env:   "dev",
			want:  []string{"digitops.yaml:4", "invalid YAML"},
		},
		{
			name:  "release name is a list",
			files: native(nil, "{name: [a], chart: charts/app}"),
			env:   "dev",
			want:  []string{"digitops.yaml:4", "invalid YAML"},
		},
		{
			name:  "sync.concurrency negative",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    sync: {concurrency: -3}\n"}),
			env:   "dev",
			want:  []string{"digitops.yaml:2", `environment "dev"`, "sync.concurrency: -3 is negative"},
		},
		{
			name:  "sync.timeout negative",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    sync: {timeout: -5s}\n"}),
			env:   "dev",
			want:  []string{"digitops.yaml:2", "sync.timeout: -5s is negative"},
		},
		{
			name:  "sync.maxPrunePercent over 100",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    sync: {maxPrunePercent: 500}\n"}),
			env:   "dev",
			want:  []string{"digitops.yaml:2", "sync.maxPrunePercent: 500 is not a percentage"},
		},
		{
			name:  "sync.historyMax negative",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    sync: {historyMax: -1}\n"}),
			env:   "dev",
			want:  []string{"digitops.yaml:2", "sync.historyMax: -1 is negative"},
		},
		{
			name:  "sync.timeout not a duration",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    sync: {timeout: soon}\n"}),
			env:   "dev",
			want:  []string{"digitops.yaml:3", "invalid YAML", "soon"},
		},
		{
			name:  "unknown drift mode",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    sync: {drift: fix}\n"}),
			env:   "dev",
			want:  []string{"digitops.yaml:2", `unknown drift mode "fix"`},
		},
		{
			name:  "billion laughs in digitops.yaml",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    releases:\n      - name: a\n        chart: charts/app\n        values:\n" + indent(billionLaughs, "          ")}),
			env:   "dev",
			want:  []string{"digitops.yaml:7", `release "a"`, "excessive aliasing"},
		},
		{
			name:  "configuration linked outside the repository",
			files: with(map[string]string{"digitops.yaml": "symlink:/etc/passwd"}),
			env:   "dev",
			want:  []string{"digitops.yaml", "outside the repository"},
		},
		{
			name:  "configuration linked to /dev/zero",
			files: with(map[string]string{"digitops.yaml": "symlink:/dev/zero"}),
			env:   "dev",
			want:  []string{"digitops.yaml", "is a link to /dev/zero"},
		},
		{
			name:  "configuration that is a FIFO",
			files: with(map[string]string{"digitops.yaml": "fifo:"}),
			env:   "dev",
			want:  []string{"digitops.yaml", "is not a regular file (a named pipe)"},
		},
		{
			name:  "configuration that is binary",
			files: with(map[string]string{"digitops.yaml": binary}),
			env:   "dev",
			want:  []string{"digitops.yaml:1", "not UTF-8 text"},
		},
		{
			// 120 KB took 5.5 GB in the parser that locates YAML errors.
			name:  "digitops.yaml nested too deep",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    releases:\n      - {name: a, chart: charts/app, values: {x: " + nested(60000) + "}}\n"}),
			env:   "dev",
			want:  []string{"digitops.yaml:4", "YAML nested deeper than 1000 levels"},
		},
		{
			name:  "configuration over the size cap",
			files: chart,
			setup: huge("digitops.yaml"),
			env:   "dev",
			want:  []string{"digitops.yaml", "is larger than 16777216 bytes"},
		},

		// Native releases.
		{
			name:  "release without a name",
			files: native(nil, "{chart: charts/app}"),
			env:   "dev",
			want:  []string{"digitops.yaml:4", "release without a name"},
		},
		{
			name:  "release name with capitals and underscore",
			files: native(nil, "{name: Egov_User, chart: charts/app}"),
			env:   "dev",
			want:  []string{"digitops.yaml:4", `release "Egov_User"`, "is not a valid Helm release name"},
		},
		{
			name:  "release name over 53 characters",
			files: native(nil, "{name: "+strings.Repeat("a", 54)+", chart: charts/app}"),
			env:   "dev",
			want:  []string{"digitops.yaml:4", `release "` + strings.Repeat("a", 54) + `"`, "is not a valid Helm release name"},
		},
		{
			name:  "release name ../x",
			files: native(nil, "{name: ../x, chart: charts/app}"),
			env:   "dev",
			want:  []string{"digitops.yaml:4", `"../x" is not a valid Helm release name`},
		},
		{
			name:  "namespace with capitals",
			files: native(nil, "{name: a, chart: charts/app, namespace: Egov}"),
			env:   "dev",
			want:  []string{"digitops.yaml:4", `release "a"`, `namespace "Egov" is not valid`},
		},
		{
			name:  "namespace over 63 characters",
			files: native(nil, "{name: a, chart: charts/app, namespace: "+strings.Repeat("n", 64)+"}"),
			env:   "dev",
			want:  []string{"digitops.yaml:4", `release "a"`, "must be no more than 63 characters"},
		},
		{
			name:  "duplicate release name",
			files: native(nil, "{name: a, chart: charts/app}", "{name: a, chart: charts/app}"),
			env:   "dev",
			want:  []string{"digitops.yaml", `release "a"`, "duplicate"},
		},
		{
			name:  "needs an unknown release",
			files: native(nil, "{name: a, chart: charts/app, needs: [nope]}"),
			env:   "dev",
			want:  []string{"digitops.yaml", `release "a"`, `needs "nope", which is not a release of this environment`},
		},
		{
			name:  "needs cycle",
			files: native(nil, "{name: a, chart: charts/app, needs: [c]}", "{name: b, chart: charts/app, needs: [a]}", "{name: c, chart: charts/app, needs: [b]}"),
			env:   "dev",
			want:  []string{"digitops.yaml", "needs cycle: a -> c -> b -> a"},
		},
		{
			name:  "needs itself",
			files: native(nil, "{name: a, chart: charts/app, needs: [a]}"),
			env:   "dev",
			want:  []string{"digitops.yaml", "needs cycle: a -> a"},
		},
		{
			name:  "release without a chart",
			files: native(nil, "{name: a}"),
			env:   "dev",
			want:  []string{"digitops.yaml:4", `release "a"`, "no chart"},
		},
		{
			name:  "chart that does not exist",
			files: native(nil, "{name: a, chart: charts/app}", "{name: b, chart: charts/nope}"),
			env:   "dev",
			want:  []string{"digitops.yaml:5", `release "b"`, `chart "charts/nope" does not exist`},
		},
		{
			name:  "chart path leaves the repository",
			files: native(nil, "{name: a, chart: ../../charts/app}"),
			env:   "dev",
			want:  []string{"digitops.yaml:4", `release "a"`, `path "../../charts/app" leaves the repository`},
		},
		{
			name:  "chart path is absolute",
			files: native(nil, "{name: a, chart: /etc}"),
			env:   "dev",
			want:  []string{"digitops.yaml:4", `release "a"`, `path "/etc" must be relative to the repository root`},
		},
		{
			name:  "chart directory linked outside the repository",
			files: native(nil, "{name: a, chart: charts/ext}"),
			setup: outsideChart,
			env:   "dev",
			want:  []string{`release "a"`, "charts/ext", "outside the repository"},
		},
		{
			name:  "chart directory without Chart.yaml",
			files: native(map[string]string{"charts/empty/values.yaml": "{}\n"}, "{name: a, chart: charts/empty}"),
			env:   "dev",
			want:  []string{"digitops.yaml:4", `release "a"`, `chart "charts/empty" does not exist`},
		},
		{
			name:  "Chart.yaml that is not YAML",
			files: native(map[string]string{"charts/app/Chart.yaml": "apiVersion: v2\nname: [app\n"}, "{name: a, chart: charts/app}"),
			env:   "dev",
			want:  []string{`release "a"`, "charts/app", "Chart.yaml", "line 2"},
		},
		{
			name:  "Chart.yaml without a version",
			files: native(map[string]string{"charts/app/Chart.yaml": "apiVersion: v2\nname: app\n"}, "{name: a, chart: charts/app}"),
			env:   "dev",
			want:  []string{`release "a"`, "charts/app", "version"},
		},
		{
			name:  "Chart.yaml linked to /dev/zero",
			files: native(map[string]string{"charts/app/Chart.yaml": "symlink:/dev/zero"}, "{name: a, chart: charts/app}"),
			env:   "dev",
			want:  []string{`release "a"`, "charts/app/Chart.yaml", "is a link to /dev/zero"},
		},
		{
			name:  "chart file linked outside the repository",
			files: native(map[string]string{"charts/app/files/host.txt": "symlink:/etc/passwd"}, "{name: a, chart: charts/app}"),
			env:   "dev",
			want:  []string{`release "a"`, "charts/app/files/host.txt: is a link to /etc/passwd, outside the repository"},
		},
		{
			name:  "chart file that is a FIFO",
			files: native(map[string]string{"charts/app/templates/pipe.yaml": "fifo:"}, "{name: a, chart: charts/app}"),
			env:   "dev",
			want:  []string{`release "a"`, "charts/app/templates/pipe.yaml", "is not a regular file (a named pipe)"},
		},
		{
			name:  "chart file linked to /dev/zero",
			files: native(map[string]string{"charts/app/files/zero": "symlink:/dev/zero"}, "{name: a, chart: charts/app}"),
			env:   "dev",
			want:  []string{`release "a"`, "charts/app/files/zero", "is a link to /dev/zero"},
		},
		{
			name:  "chart with a link loop",
			files: native(map[string]string{"charts/app/loop": "symlink:."}, "{name: a, chart: charts/app}"),
			env:   "dev",
			want:  []string{`release "a"`, "charts/app/loop", "too many levels of links"},
		},
		{
			name:  "chart values.yaml nested too deep",
			files: native(map[string]string{"charts/app/values.yaml": "x: " + nested(30000) + "\n"}, "{name: a, chart: charts/app}"),
			env:   "dev",
			want:  []string{`release "a"`, "charts/app/values.yaml:1", "YAML nested deeper than 1000 levels"},
		},
		{
			name:  "Chart.yaml nested too deep",
			files: native(map[string]string{"charts/app/Chart.yaml": okChart + "annotations: " + nested(30000) + "\n"}, "{name: a, chart: charts/app}"),
			env:   "dev",
			want:  []string{`release "a"`, "charts/app/Chart.yaml:4", "YAML nested deeper than 1000 levels"},
		},
		{
			name:  "chart https dependency missing from charts/",
			files: native(map[string]string{"charts/app/Chart.yaml": okChart + "dependencies:\n  - name: redis\n    version: 19.0.0\n    repository: https://charts.bitnami.com/bitnami\n"}, "{name: a, chart: charts/app}"),
			env:   "dev",
			want:  []string{`release "a"`, "charts/app/Chart.yaml:5", `dependency "redis" (https://charts.bitnami.com/bitnami) is not in charts/app/charts`},
		},
		{
			name:  "chart file:// dependency outside the repository",
			files: native(map[string]string{"charts/app/Chart.yaml": okChart + "dependencies:\n  - name: lib\n    version: 0.1.0\n    repository: file://../../../lib\n"}, "{name: a, chart: charts/app}"),
			setup: func(t *testing.T, repo string) string {
				// ../lib of the repository: a valid chart, outside.
				lib := filepath.Join(filepath.Dir(repo), "lib")
				if err := os.MkdirAll(lib, 0o755); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.RemoveAll(lib) })
				if err := os.WriteFile(filepath.Join(lib, "Chart.yaml"), []byte("apiVersion: v2\nname: lib\nversion: 0.1.0\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return repo
			},
			env:  "dev",
			want: []string{`release "a"`, "lib", "outside the repository"},
		},
		{
			name:  "template syntax error",
			files: native(map[string]string{"charts/app/templates/bad.yaml": "kind: ConfigMap\nname: {{ .Values.x \n"}, "{name: a, chart: charts/app}"),
			env:   "dev",
			want:  []string{`release "a"`, "templates/bad.yaml:2"},
		},
		{
			name:  "template that fails",
			files: native(map[string]string{"charts/app/templates/bad.yaml": "{{ required \"x.y is required\" .Values.x.y }}\n"}, "{name: a, chart: charts/app}"),
			env:   "dev",
			want:  []string{`release "a"`, "templates/bad.yaml:1", "nil pointer evaluating"},
		},
		{
			name:  "template that renders invalid YAML",
			files: native(map[string]string{"charts/app/templates/bad.yaml": "kind: ConfigMap\n  name: x\n"}, "{name: a, chart: charts/app}"),
			env:   "dev",
			want:  []string{`release "a"`, "templates/bad.yaml"},
		},

		// Values.
		{
			name:  "values file that is not YAML",
			files: native(map[string]string{"values/b.yaml": "x: 1\ny: [unclosed\n"}, "{name: a, chart: charts/app}", "{name: b, chart: charts/app, values: [values/b.yaml]}"),
			env:   "dev",
			want:  []string{"values/b.yaml:", `release "b"`, "invalid YAML"},
		},
		{
			name:  "values file that is a list",
			files: native(map[string]string{"values/b.yaml": "- a\n- b\n"}, "{name: b, chart: charts/app, values: [values/b.yaml]}"),
			env:   "dev",
			want:  []string{"values/b.yaml:1", `release "b"`, "values must be a YAML mapping"},
		},
		{
			name:  "values file that does not exist",
			files: native(nil, "{name: b, chart: charts/app, values: [values/b.yaml]}"),
			env:   "dev",
			want:  []string{"values/b.yaml", `release "b"`, "values file does not exist"},
		},
		{
			name:  "values that is a number",
			files: native(nil, "{name: b, chart: charts/app, values: 5}"),
			env:   "dev",
			want:  []string{"digitops.yaml:4", `release "b"`, "values: want a mapping, a file name, or a list of them"},
		},
		{
			name:  "values path leaves the repository",
			files: native(nil, "{name: b, chart: charts/app, values: [../../etc/passwd]}"),
			env:   "dev",
			want:  []string{"digitops.yaml:4", `release "b"`, "leaves the repository"},
		},
		{
			name:  "values path is absolute",
			files: native(nil, "{name: b, chart: charts/app, values: [/etc/passwd]}"),
			env:   "dev",
			want:  []string{"digitops.yaml:4", `release "b"`, "must be relative to the repository root"},
		},
		{
			name:  "values file linked outside the repository",
			files: native(map[string]string{"values/b.yaml": "symlink:/etc/passwd"}, "{name: a, chart: charts/app}", "{name: b, chart: charts/app, values: [values/b.yaml]}"),
			env:   "dev",
			want:  []string{"values/b.yaml", `release "b"`, "is a link to /etc/passwd, outside the repository"},
		},
		{
			name:  "values file that is a dangling link",
			files: native(map[string]string{"values/b.yaml": "symlink:gone.yaml"}, "{name: b, chart: charts/app, values: [values/b.yaml]}"),
			env:   "dev",
			want:  []string{"values/b.yaml", `release "b"`, "is a link to gone.yaml, which does not exist"},
		},
		{
			name:  "values file linked inside the repository to invalid YAML",
			files: native(map[string]string{"values/b.yaml": "symlink:../shared/b.yaml", "shared/b.yaml": "x: 1\ny: [unclosed\n"}, "{name: b, chart: charts/app, values: [values/b.yaml]}"),
			env:   "dev",
			want:  []string{"values/b.yaml:2", `release "b"`, "invalid YAML"},
		},
		{
			name:  "values file linked to /dev/zero",
			files: native(map[string]string{"values/b.yaml": "symlink:/dev/zero"}, "{name: b, chart: charts/app, values: [values/b.yaml]}"),
			env:   "dev",
			want:  []string{"values/b.yaml", `release "b"`, "is a link to /dev/zero"},
		},
		{
			name:  "values file that is a FIFO",
			files: native(map[string]string{"values/b.yaml": "fifo:"}, "{name: b, chart: charts/app, values: [values/b.yaml]}"),
			env:   "dev",
			want:  []string{"values/b.yaml", `release "b"`, "is not a regular file (a named pipe)"},
		},
		{
			name:  "values file that is a directory",
			files: native(map[string]string{"values/b.yaml/x": "a: 1\n"}, "{name: b, chart: charts/app, values: [values/b.yaml]}"),
			env:   "dev",
			want:  []string{"values/b.yaml", `release "b"`, "is not a regular file (a directory)"},
		},
		{
			name:  "values file that is binary",
			files: native(map[string]string{"values/b.yaml": binary}, "{name: b, chart: charts/app, values: [values/b.yaml]}"),
			env:   "dev",
			want:  []string{"values/b.yaml:1", `release "b"`, "not UTF-8 text"},
		},
		{
			name:  "values file that is not UTF-8",
			files: native(map[string]string{"values/b.yaml": nonUTF8}, "{name: b, chart: charts/app, values: [values/b.yaml]}"),
			env:   "dev",
			want:  []string{"values/b.yaml:3", `release "b"`, "not UTF-8 text", "column 7"},
		},
		{
			name:  "values file over the size cap",
			files: native(nil, "{name: b, chart: charts/app, values: [values/b.yaml]}"),
			setup: func(t *testing.T, repo string) string {
				if err := os.MkdirAll(filepath.Join(repo, "values"), 0o755); err != nil {
					t.Fatal(err)
				}
				return huge("values/b.yaml")(t, repo)
			},
			env:  "dev",
			want: []string{"values/b.yaml", `release "b"`, "is larger than 16777216 bytes, the cap on one repository file"},
		},
		{
			// 200 KB took 15 GB and 13 s.
			name:  "values file nested too deep",
			files: native(map[string]string{"values/b.yaml": "x: " + nested(100000) + "\n"}, "{name: b, chart: charts/app, values: [values/b.yaml]}"),
			env:   "dev",
			want:  []string{"values/b.yaml:1", `release "b"`, "YAML nested deeper than 1000 levels"},
		},
		{
			name:  "values file nested too deep in blocks",
			files: native(map[string]string{"values/b.yaml": blockNested(1500)}, "{name: b, chart: charts/app, values: [values/b.yaml]}"),
			env:   "dev",
			want:  []string{"values/b.yaml:1001", `release "b"`, "YAML nested deeper than 1000 levels"},
		},
		{
			name:  "values file with a billion laughs",
			files: native(map[string]string{"values/b.yaml": billionLaughs}, "{name: b, chart: charts/app, values: [values/b.yaml]}"),
			env:   "dev",
			want:  []string{"values/b.yaml", `release "b"`, "excessive aliasing"},
		},

		// Layout digit.
		{
			name:  "digit: missing env file",
			files: digit("", nil),
			setup: func(t *testing.T, repo string) string {
				if err := os.Remove(filepath.Join(repo, "env.yaml")); err != nil {
					t.Fatal(err)
				}
				return repo
			},
			env:  "dev",
			want: []string{"digitops.yaml:2", `environment "dev"`, `envFile: "env.yaml" is not a file in the repository`},
		},
		{
			name:  "digit: env file that is not YAML",
			files: digit("", map[string]string{"env.yaml": "global:\n  domain: [x\n"}),
			env:   "dev",
			want:  []string{"env.yaml:2", "invalid YAML"},
		},
		{
			name:  "digit: env file that is not UTF-8",
			files: digit("", map[string]string{"env.yaml": nonUTF8}),
			env:   "dev",
			want:  []string{"env.yaml:3", "not UTF-8 text"},
		},
		{
			name:  "digit: env file linked outside the repository",
			files: digit("", map[string]string{"env.yaml": "symlink:/etc/passwd"}),
			env:   "dev",
			want:  []string{"env.yaml", "is a link to /etc/passwd, outside the repository"},
		},
		{
			name:  "digit: env file that is a FIFO",
			files: digit("", map[string]string{"env.yaml": "fifo:"}),
			env:   "dev",
			want:  []string{"env.yaml", "is not a regular file (a named pipe)"},
		},
		{
			// 60 KB took 1.5 GB.
			name:  "digit: env file nested too deep",
			files: digit("", map[string]string{"env.yaml": "global:\n  domain: example.org\nx: " + nested(30000) + "\n"}),
			env:   "dev",
			want:  []string{"env.yaml:3", "YAML nested deeper than 1000 levels"},
		},
		{
			name:  "digit: env file over the size cap",
			files: digit("", nil),
			setup: huge("env.yaml"),
			env:   "dev",
			want:  []string{"env.yaml", "is larger than 16777216 bytes"},
		},
		{
			name:  "digit: chartsDir leaves the repository",
			files: digit("", map[string]string{"digitops.yaml": strings.Replace(digitConfig(""), "chartsDir: charts", "chartsDir: ../charts", 1)}),
			env:   "dev",
			want:  []string{"digitops.yaml:2", `environment "dev"`, `chartsDir: path "../charts" leaves the repository`},
		},
		{
			name:  "digit: chartsDir is absolute",
			files: digit("", map[string]string{"digitops.yaml": strings.Replace(digitConfig(""), "chartsDir: charts", "chartsDir: /etc", 1)}),
			env:   "dev",
			want:  []string{"digitops.yaml:2", `environment "dev"`, `chartsDir: path "/etc" must be relative to the repository root`},
		},
		{
			name:  "digit: release chart that is not YAML",
			files: digit("", map[string]string{"release.yaml": "modules:\n  - name: m_a\n    services: [a\n"}),
			env:   "dev",
			want:  []string{"release.yaml:3", "invalid YAML"},
		},
		{
			name:  "digit: release chart without modules",
			files: digit("", map[string]string{"release.yaml": "version: v1\n"}),
			env:   "dev",
			want:  []string{"release.yaml:1", "no modules"},
		},
		{
			name:  "digit: release chart services is a string",
			files: digit("", map[string]string{"release.yaml": "modules:\n  - name: m_a\n    services: example/app:1.0\n"}),
			env:   "dev",
			want:  []string{"release.yaml:3", "services: want a list"},
		},
		{
			name:  "digit: bad image reference",
			files: digit("", map[string]string{"release.yaml": "modules:\n  - name: m_a\n    services:\n      - example/App:1.0\n"}),
			env:   "dev",
			want:  []string{"release.yaml:4", `bad image reference "example/App:1.0"`},
		},
		{
			name:  "digit: module declared twice",
			files: digit("", map[string]string{"release.yaml": "modules:\n  - name: m_a\n    services: [example/app:1.0]\n  - name: m_a\n    services: [example/app:1.0]\n"}),
			env:   "dev",
			want:  []string{"release.yaml:4", `module "m_a" is declared twice (first on line 2)`},
		},
		{
			name:  "digit: bad image references in two modules",
			files: digit("", map[string]string{"release.yaml": "modules:\n  - name: m_a\n    services: [example/App:1.0]\n  - name: m_b\n    services: [example/B:1.0]\n"}),
			env:   "dev",
			want:  []string{"release.yaml:3", `bad image reference "example/App:1.0"`},
		},
		{
			name:  "digit: release chart linked outside the repository",
			files: digit("", map[string]string{"release.yaml": "symlink:/etc/passwd"}),
			env:   "dev",
			want:  []string{"release.yaml", "is a link to /etc/passwd, outside the repository"},
		},
		{
			name:  "digit: release chart with a billion laughs",
			files: digit("", map[string]string{"release.yaml": billionLaughs + "modules:\n  - name: m_a\n    services: *i\n"}),
			env:   "dev",
			want:  []string{"release.yaml:12", "services"},
		},
		{
			name:  "digit: unknown module selected",
			files: digit("    modules: [m_nope]\n", nil),
			env:   "dev",
			want:  []string{"digitops.yaml:", `modules: unknown module(s) "m_nope" in release.yaml (it has: m_a)`},
		},
		{
			name:  "digit: service without a chart",
			files: digit("", map[string]string{"release.yaml": "modules:\n  - name: m_a\n    services:\n      - example/nochart:1.0\n"}),
			env:   "dev",
			want:  []string{"release.yaml:4", `release "nochart"`, "no chart under charts has a values.yaml or nochart-values.yaml"},
		},
		{
			name:  "digit: chart without Chart.yaml",
			files: digit("", nil),
			setup: func(t *testing.T, repo string) string {
				if err := os.Remove(filepath.Join(repo, "charts/app/Chart.yaml")); err != nil {
					t.Fatal(err)
				}
				return repo
			},
			env:  "dev",
			want: []string{"release.yaml:4", `release "app"`, "charts/app has no Chart.yaml"},
		},
		{
			name:  "digit: instance values file that is not YAML",
			files: digit("", map[string]string{"charts/app/app-values.yaml": "x: [1\n"}),
			env:   "dev",
			want:  []string{"charts/app/app-values.yaml:1", `release "app"`, "invalid YAML"},
		},
		{
			name:  "digit: chart file linked outside the repository",
			files: digit("", map[string]string{"charts/app/files/host.txt": "symlink:/etc/passwd"}),
			env:   "dev",
			want:  []string{`release "app"`, "charts/app/files/host.txt: is a link to /etc/passwd, outside the repository"},
		},
		{
			name:  "digit: secrets file linked outside the repository",
			files: clusterConfigs("symlink:/etc/passwd"),
			env:   "dev",
			want:  []string{"secrets.yaml", `release "cluster-configs"`, "is a link to /etc/passwd, outside the repository"},
		},
		{
			name:  "digit: SOPS secrets without a key",
			files: clusterConfigs(string(encSecrets)),
			vars:  map[string]string{"SOPS_AGE_KEY_FILE": "/nonexistent/keys.txt"},
			env:   "dev",
			want:  []string{"secrets.yaml", `release "cluster-configs"`, "cannot decrypt", "age1"},
		},

		// Layout helmfile.
		{
			name:  "helmfile: missing root helmfile",
			files: helmfile("", nil),
			setup: func(t *testing.T, repo string) string {
				if err := os.Remove(filepath.Join(repo, "helmfile.yaml")); err != nil {
					t.Fatal(err)
				}
				return repo
			},
			env:  "dev",
			want: []string{"helmfile.yaml", "does not exist"},
		},
		{
			name:  "helmfile: root helmfile leaves the repository",
			files: helmfile("", map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    layout: helmfile\n    helmfile: ../helmfile.yaml\n"}),
			env:   "dev",
			want:  []string{"digitops.yaml:2", "../helmfile.yaml", "leaves the repository"},
		},
		{
			name:  "helmfile: root helmfile linked outside the repository",
			files: helmfile("symlink:/etc/passwd", nil),
			env:   "dev",
			want:  []string{"helmfile.yaml", "is a link to /etc/passwd, outside the repository"},
		},
		{
			name:  "helmfile: root helmfile that is a FIFO",
			files: helmfile("fifo:", nil),
			env:   "dev",
			want:  []string{"helmfile.yaml", "is not a regular file (a named pipe)"},
		},
		{
			name:  "helmfile: invalid YAML",
			files: helmfile("releases:\n  - name: a\n   chart: ./charts/app\n", nil),
			env:   "dev",
			want:  []string{"helmfile.yaml:", "invalid YAML"},
		},
		{
			name:  "helmfile: nested too deep",
			files: helmfile("releases:\n  - name: a\n    chart: ./charts/app\n    labels: "+strings.Repeat("{a: ", 15000)+strings.Repeat("}", 15000)+"\n", nil),
			env:   "dev",
			want:  []string{"helmfile.yaml:4", "YAML nested deeper than 1000 levels"},
		},
		{
			name:  "helmfile: billion laughs",
			files: helmfile("values:\n  - "+strings.TrimPrefix(indent(billionLaughs, "    "), "    ")+"releases:\n  - name: a\n    chart: ./charts/app\n", nil),
			env:   "dev",
			want:  []string{"helmfile.yaml:2", "excessive aliasing"},
		},
		{
			name:  "helmfile: unknown release key",
			files: helmfile("releases:\n  - name: a\n    chart: ./charts/app\n    valeus: []\n", nil),
			env:   "dev",
			want:  []string{"helmfile.yaml:4", `release "a"`, `unknown release key "valeus"`},
		},
		{
			name:  "helmfile: two releases in error",
			files: helmfile("releases:\n  - name: a\n    chart: ./charts/app\n    valeus: []\n  - name: b\n    chart: ./charts/app\n    valeus: []\n", nil),
			env:   "dev",
			want:  []string{"helmfile.yaml:4", `release "a"`, `unknown release key "valeus"`},
		},
		{
			name:  "helmfile: hooks",
			files: helmfile("releases:\n  - name: a\n    chart: ./charts/app\n    hooks:\n      - events: [presync]\n        command: sh\n", nil),
			env:   "dev",
			want:  []string{"helmfile.yaml:4", `release "a"`, "unsupported helmfile feature: hooks"},
		},
		{
			name:  "helmfile: exec",
			files: helmfile("releases:\n  - name: a\n    chart: ./charts/app\n    version: {{ exec \"sh\" (list \"-c\" \"cat /etc/passwd\") }}\n", nil),
			env:   "dev",
			want:  []string{"helmfile.yaml:4", "the template function exec is not supported by digitops"},
		},
		{
			name:  "helmfile: readFile of an absolute path outside",
			files: helmfile("values:\n  - x: {{ readFile \"/etc/passwd\" | quote }}\nreleases:\n  - name: a\n    chart: ./charts/app\n", nil),
			env:   "dev",
			want:  []string{"helmfile.yaml:2", `readFile: "/etc/passwd" is outside the repository`},
		},
		{
			name:  "helmfile: readFile of a relative path outside",
			files: helmfile("values:\n  - x: {{ readFile \"../../../../../../etc/passwd\" | quote }}\nreleases:\n  - name: a\n    chart: ./charts/app\n", nil),
			env:   "dev",
			want:  []string{"helmfile.yaml:2", "readFile", "outside the repository"},
		},
		{
			name:  "helmfile: readFile of a link outside",
			files: helmfile("values:\n  - x: {{ readFile \"host.txt\" | quote }}\nreleases:\n  - name: a\n    chart: ./charts/app\n", map[string]string{"host.txt": "symlink:/etc/passwd"}),
			env:   "dev",
			want:  []string{"helmfile.yaml:2", "host.txt", "is a link to /etc/passwd, outside the repository"},
		},
		{
			name:  "helmfile: readFile of /dev/zero",
			files: helmfile("values:\n  - x: {{ readFile \"zero\" | quote }}\nreleases:\n  - name: a\n    chart: ./charts/app\n", map[string]string{"zero": "symlink:/dev/zero"}),
			env:   "dev",
			want:  []string{"helmfile.yaml:2", "zero", "is a link to /dev/zero"},
		},
		{
			name:  "helmfile: readFile of a FIFO",
			files: helmfile("values:\n  - x: {{ readFile \"pipe\" | quote }}\nreleases:\n  - name: a\n    chart: ./charts/app\n", map[string]string{"pipe": "fifo:"}),
			env:   "dev",
			want:  []string{"helmfile.yaml:2", "pipe", "is not a regular file (a named pipe)"},
		},
		{
			name:  "helmfile: requiredEnv of digitops's API token",
			files: helmfile("releases:\n  - name: a\n    chart: ./charts/app\n    values:\n      - x: {{ requiredEnv \"DIGITOPS_API_TOKEN\" }}\n", nil),
			vars:  map[string]string{"DIGITOPS_API_TOKEN": apiToken},
			env:   "dev",
			want:  []string{"helmfile.yaml:5", "DIGITOPS_API_TOKEN is a credential of digitops itself"},
		},
		{
			name:  "helmfile: env of digitops's API token reads as unset",
			files: helmfile("releases:\n  - name: a\n    chart: ./charts/app\n    values:\n      - x: {{ env \"DIGITOPS_API_TOKEN\" | required \"the token is unset\" }}\n", nil),
			vars:  map[string]string{"DIGITOPS_API_TOKEN": apiToken},
			env:   "dev",
			want:  []string{"helmfile.yaml:5", "the token is unset"},
		},
		{
			name:  "helmfile: requiredEnv of the SOPS key",
			files: helmfile("releases:\n  - name: a\n    chart: ./charts/app\n    values:\n      - x: {{ requiredEnv \"SOPS_AGE_KEY\" }}\n", nil),
			vars:  map[string]string{"SOPS_AGE_KEY": apiToken},
			env:   "dev",
			want:  []string{"helmfile.yaml:5", "SOPS_AGE_KEY is a credential of digitops itself"},
		},
		{
			name:  "helmfile: requiredEnv of a CI token",
			files: helmfile("releases:\n  - name: a\n    chart: ./charts/app\n    values:\n      - x: {{ requiredEnv \"GITHUB_TOKEN\" }}\n", nil),
			vars:  map[string]string{"GITHUB_TOKEN": apiToken},
			env:   "dev",
			want:  []string{"helmfile.yaml:5", "GITHUB_TOKEN is not a variable templates may read", "--helmfile-env"},
		},
		{
			name:  "helmfile: env of a kubeconfig reads as unset",
			files: helmfile("releases:\n  - name: a\n    chart: ./charts/app\n    values:\n      - x: {{ env \"KUBECONFIG_DATA\" | required \"KUBECONFIG_DATA is unset\" }}\n", nil),
			vars:  map[string]string{"KUBECONFIG_DATA": apiToken},
			env:   "dev",
			want:  []string{"helmfile.yaml:5", "KUBECONFIG_DATA is unset"},
		},
		{
			name:  "helmfile: requiredEnv of a variable --helmfile-env does not name",
			files: helmfile("releases:\n  - name: a\n    chart: ./charts/app\n    values:\n      - x: {{ requiredEnv \"ARM_CLIENT_SECRET\" }}\n", nil),
			vars:  map[string]string{"ARM_CLIENT_SECRET": apiToken, "DEPLOY_REGION": "x"},
			env:   "dev",
			args:  []string{"--helmfile-env", "DEPLOY_*,CI_ENVIRONMENT_NAME"},
			want:  []string{"helmfile.yaml:5", "ARM_CLIENT_SECRET is not a variable templates may read"},
		},
		{
			name:  "helmfile: template error",
			files: helmfile("releases:\n  - name: a\n    chart: ./charts/app\n    values:\n      - x: {{ .Values.missing }}\n", nil),
			env:   "dev",
			want:  []string{"helmfile.yaml:5", `map has no entry for key "missing"`},
		},
		{
			name:  "helmfile: missing sub-helmfile",
			files: helmfile("helmfiles:\n  - path: sub/helmfile.yaml\n", nil),
			env:   "dev",
			want:  []string{"helmfile.yaml:2", `helmfiles: "sub/helmfile.yaml" does not exist`},
		},
		{
			name:  "helmfile: sub-helmfile linked outside the repository",
			files: helmfile("helmfiles:\n  - sub.yaml\n", map[string]string{"sub.yaml": "symlink:/etc/passwd"}),
			env:   "dev",
			want:  []string{"sub.yaml", "is a link to /etc/passwd, outside the repository"},
		},
		{
			name:  "helmfile: helmfiles cycle",
			files: helmfile("helmfiles:\n  - sub.yaml\n", map[string]string{"sub.yaml": "helmfiles:\n  - helmfile.yaml\n"}),
			env:   "dev",
			want:  []string{"helmfiles: cycle: helmfile.yaml -> sub.yaml -> helmfile.yaml"},
		},
		{
			name:  "helmfile: needs cycle",
			files: helmfile("releases:\n  - name: a\n    chart: ./charts/app\n    needs: [b]\n  - name: b\n    chart: ./charts/app\n    needs: [a]\n", nil),
			env:   "dev",
			want:  []string{"helmfile.yaml", "needs cycle: a -> b -> a"},
		},
		{
			name:  "helmfile: needs an unknown release",
			files: helmfile("releases:\n  - name: a\n    chart: ./charts/app\n    needs: [nope]\n", nil),
			env:   "dev",
			want:  []string{"helmfile.yaml:4", `release "a"`, `needs "nope", which is not a release of any helmfile of this environment`},
		},
		{
			name:  "helmfile: chart leaves the repository",
			files: helmfile("releases:\n  - name: a\n    chart: ../../app\n", nil),
			env:   "dev",
			want:  []string{"helmfile.yaml:2", `release "a"`, `chart: path "../../app" leaves the repository`},
		},
		{
			name:  "helmfile: values file linked outside the repository",
			files: helmfile("releases:\n  - name: a\n    chart: ./charts/app\n    values:\n      - values/a.yaml\n", map[string]string{"values/a.yaml": "symlink:/etc/passwd"}),
			env:   "dev",
			want:  []string{"values/a.yaml", `release "a"`, "is a link to /etc/passwd, outside the repository"},
		},
		{
			name:  "helmfile: SOPS secrets without a key",
			files: helmfile("environments:\n  default:\n    secrets: [secrets.yaml]\nreleases:\n  - name: a\n    chart: ./charts/app\n", map[string]string{"secrets.yaml": string(encSecrets)}),
			vars:  map[string]string{"SOPS_AGE_KEY_FILE": "/nonexistent/keys.txt"},
			env:   "dev",
			want:  []string{"secrets.yaml", "cannot decrypt", "age1"},
		},

		// Chart repositories.
		{
			name:  "chart repository digest that climbs out of the cache",
			files: chart,
			setup: climbingDigest,
			env:   "dev",
			want:  []string{`release "a"`, `digest "sha256:../../../evil" is not sha256:<64 hex digits>`},
		},

		// Git.
		{
			name:  "git: unreachable URL",
			files: native(nil, "{name: a, chart: charts/app}"),
			setup: func(*testing.T, string) string { return "http://127.0.0.1:1/x.git" },
			env:   "dev",
			want:  []string{"127.0.0.1:1", "connection refused"},
		},
		{
			name:  "git: URL with credentials is not printed",
			files: native(nil, "{name: a, chart: charts/app}"),
			setup: func(*testing.T, string) string { return "http://user:" + apiToken + "@127.0.0.1:1/x.git" },
			env:   "dev",
			want:  []string{"127.0.0.1:1"},
		},
		{
			name:  "git: repository that does not exist",
			files: native(nil, "{name: a, chart: charts/app}"),
			setup: func(t *testing.T, _ string) string { return "file://" + filepath.Join(t.TempDir(), "nope") },
			env:   "dev",
			want:  []string{"nope", "not a git repository"},
		},
		{
			name:  "git: unknown branch",
			files: native(nil, "{name: a, chart: charts/app}"),
			setup: committed,
			env:   "dev",
			args:  []string{"--ref", "nope"},
			want:  []string{`"nope"`, "not found"},
		},
		{
			name:  "git: unknown commit",
			files: native(nil, "{name: a, chart: charts/app}"),
			setup: committed,
			env:   "dev",
			args:  []string{"--ref", "sha1:" + strings.Repeat("0", 40)},
			want:  []string{strings.Repeat("0", 40)},
		},
		{
			name:  "git: semver range no tag matches",
			files: native(nil, "{name: a, chart: charts/app}"),
			setup: committed,
			env:   "dev",
			args:  []string{"--ref", "semver:>=1.0.0"},
			want:  []string{">=1.0.0"},
		},
		{
			name:  "git: bad configuration in the commit",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    relases: []\n"}),
			setup: committed,
			env:   "dev",
			args:  []string{"--ref", "main"},
			want:  []string{"error: digitops.yaml:3", "relases"},
		},

		// Flags.
		{
			name:  "values file over a --max-file-size of 1Ki",
			files: native(map[string]string{"values/b.yaml": "x: \"" + strings.Repeat("a", 2048) + "\"\n"}, "{name: b, chart: charts/app, values: [values/b.yaml]}"),
			env:   "dev",
			args:  []string{"--max-file-size", "1Ki"},
			want:  []string{"values/b.yaml", "is larger than 1024 bytes"},
		},
		{
			name:  "flag: --max-file-size that is not a size",
			files: native(nil, "{name: a, chart: charts/app}"),
			env:   "dev",
			args:  []string{"--max-file-size", "big"},
			want:  []string{`--max-file-size "big"`, "16Mi"},
		},
		{
			name:  "flag: --helmfile-env with a bad pattern",
			files: native(nil, "{name: a, chart: charts/app}"),
			env:   "dev",
			args:  []string{"--helmfile-env", "CI_["},
			want:  []string{`--helmfile-env: "CI_[" is not a variable name or pattern`},
		},
		{
			name:  "flag: --secrets bogus",
			files: native(nil, "{name: a, chart: charts/app}"),
			env:   "dev",
			args:  []string{"--secrets", "bogus"},
			want:  []string{`--secrets "bogus"`, "decrypt or placeholder"},
		},
		{
			name:  "flag: --secrets placeholder on apply",
			files: native(nil, "{name: a, chart: charts/app}"),
			env:   "dev",
			args:  []string{"--secrets", "placeholder"},
			want:  []string{"apply needs the real secrets"},
		},
		{
			name:  "flag: unknown flag",
			files: native(nil, "{name: a, chart: charts/app}"),
			env:   "dev",
			args:  []string{"--bogus"},
			want:  []string{"unknown flag: --bogus"},
		},
		{
			name:  "flag: --concurrency is not a flag",
			files: native(nil, "{name: a, chart: charts/app}"),
			env:   "dev",
			args:  []string{"--concurrency", "-1"},
			want:  []string{"unknown flag: --concurrency"},
		},
		{
			name:  "flag: --env without a value",
			files: native(nil, "{name: a, chart: charts/app}"),
			args:  []string{"--env"},
			want:  []string{"flag needs an argument", "env"},
		},
		{
			name:  "flag: no --env with two environments",
			files: with(map[string]string{"digitops.yaml": "environments:\n  - name: dev\n  - name: prod\n"}),
			want:  []string{"digitops.yaml", "has 2 environments (dev, prod): pick one with --env"},
		},
		{
			name:  "flag: a positional argument",
			files: native(nil, "{name: a, chart: charts/app}"),
			env:   "dev",
			args:  []string{"everything"},
			want:  []string{`"everything"`},
		},
		{
			name:  "flag: --repo that does not exist",
			files: native(nil, "{name: a, chart: charts/app}"),
			setup: func(t *testing.T, _ string) string { return filepath.Join(t.TempDir(), "nope") },
			env:   "dev",
			want:  []string{"nope", "is not a directory or a Git URL"},
		},
		{
			name:  "flag: --config that does not exist",
			files: native(nil, "{name: a, chart: charts/app}"),
			env:   "dev",
			args:  []string{"--config", "/nonexistent/digitops.yaml"},
			want:  []string{"/nonexistent/digitops.yaml", "no configuration file"},
		},
		{
			name:  "flag: --selector without =",
			files: native(nil, "{name: a, chart: charts/app}"),
			env:   "dev",
			args:  []string{"--selector", "tier"},
			want:  []string{`invalid selector "tier"`},
		},
		{
			name:  "flag: --release of no release",
			files: native(nil, "{name: a, chart: charts/app}"),
			env:   "dev",
			args:  []string{"--release", "nope"},
			want:  []string{"no release matches --release nope", "the environment has: a"},
		},
		{
			name:  "policy: the repository picks a cluster the policy does not list",
			files: merge(chart, map[string]string{"digitops.yaml": "environments:\n  - name: dev\n    cluster: {context: prod}\n    releases:\n      - {name: a, namespace: egov, chart: charts/app}\n"}),
			env:   "dev",
			args:  []string{"--policy", policyFile(t, "namespaces: [egov]\n    clusters: [{context: dev}]")},
			want:  []string{`environment "dev": cluster context "prod" is not allowed`, `environments["*"].clusters allows context dev`},
		},
		{
			name:  "policy: no entry for the environment",
			files: native(nil, "{name: a, namespace: egov, chart: charts/app}"),
			env:   "dev",
			args:  []string{"--policy", policyFileFor(t, "prod-*", "namespaces: [egov]")},
			want:  []string{`environment "dev" is not allowed`, "has no entry for it"},
		},
		{
			name:  "policy: a typo in the policy file",
			files: native(nil, "{name: a, namespace: egov, chart: charts/app}"),
			env:   "dev",
			args:  []string{"--policy", policyFile(t, "namespace: [egov]")},
			want:  []string{"policy.yaml:3", `unknown field "namespace"`},
		},
		{
			name:  "flag: --kubeconfig that does not exist",
			files: native(nil, "{name: a, chart: charts/app}"),
			env:   "dev",
			args:  []string{"--kubeconfig", "/nonexistent/kubeconfig"},
			want:  []string{"/nonexistent/kubeconfig"},
		},
		{
			name:  "flag: --context that does not exist",
			files: native(nil, "{name: a, chart: charts/app}"),
			env:   "dev",
			args:  []string{"--context", "nope"},
			want:  []string{`"nope"`, "context"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Hide the machine's SOPS keys and caches: a case sees only
			// what it sets.
			sopstest.IsolateKeys(t)
			t.Setenv("XDG_CACHE_HOME", t.TempDir())
			for k, v := range tt.vars {
				t.Setenv(k, v)
			}
			repo := writeRepo(t, tt.files)
			if tt.setup != nil {
				repo = tt.setup(t, repo)
			}
			argv := []string{"apply", "--repo", repo, "--kubeconfig", env.Kubeconfig}
			if tt.env != "" {
				argv = append(argv, "--env", tt.env)
			}
			argv = append(argv, tt.args...)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var out, errOut bytes.Buffer
			type result struct {
				code  int
				panic any
				stack []byte
			}
			done := make(chan result, 1)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			go func() {
				var r result
				defer func() {
					if p := recover(); p != nil {
						r.panic, r.stack = p, debug.Stack()
					}
					done <- r
				}()
				r.code = run(ctx, argv, streams{in: strings.NewReader(""), out: &out, err: &errOut})
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(caseTimeout):
				cancel()
				t.Fatalf("no answer after %s: digitops hangs on this input", caseTimeout)
			}
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if r.panic != nil {
				t.Fatalf("panic: %v\n%s", r.panic, r.stack)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > caseMaxAlloc {
				t.Errorf("allocated %d MiB, want under %d MiB", alloc>>20, caseMaxAlloc>>20)
			}
			if elapsed > caseTimeout {
				t.Errorf("took %s, want under %s", elapsed, caseTimeout)
			}
			if r.code != 1 {
				t.Fatalf("exit code = %d, want 1; stderr: %s", r.code, errOut.String())
			}
			msg := strings.TrimRight(errOut.String(), "\n")
			t.Logf("%s (in %s)", msg, elapsed.Round(time.Millisecond))
			for _, leak := range []string{hostContent, apiToken} {
				if strings.Contains(msg, leak) || strings.Contains(out.String(), leak) {
					t.Errorf("the output shows %q:\nstderr: %s\nstdout: %s", leak, msg, out.String())
				}
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
				// Do not let the next cases fail for this one.
				for _, s := range secrets.Items {
					_ = cs.CoreV1().Secrets(s.Namespace).Delete(context.Background(), s.Name, metav1.DeleteOptions{})
				}
			}
		})
	}
}

// policyFile writes an operator policy whose one entry, "*", has the rules
// given (indented as its fields) and returns its path.
func policyFile(t *testing.T, rules string) string {
	t.Helper()
	return policyFileFor(t, "*", rules)
}

// policyFileFor is policyFile with the entry's key.
func policyFileFor(t *testing.T, key, rules string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte("environments:\n  \""+key+"\":\n    "+rules+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// nested is n flow sequences, each in the last: 2n bytes.
func nested(n int) string {
	return strings.Repeat("[", n) + strings.Repeat("]", n)
}

// blockNested is n mappings, each in the last, one a line.
func blockNested(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(strings.Repeat(" ", i) + "k:\n")
	}
	return b.String()
}

// climbingDigest serves a chart repository whose index gives chart demo
// the digest sha256:../../../evil, and puts a valid chart where that digest
// leads from the chart cache ($XDG_CACHE_HOME/digitops/charts/sha256):
// $XDG_CACHE_HOME/evil.tgz. digitops.yaml pulls demo from it.
func climbingDigest(t *testing.T, repo string) string {
	cache := os.Getenv("XDG_CACHE_HOME")
	ch := &chart.Chart{
		Metadata:  &chart.Metadata{APIVersion: chart.APIVersionV2, Name: "demo", Version: "0.1.0"},
		Templates: []*chart.File{{Name: "templates/cm.yaml", Data: []byte(okTemplate)}},
	}
	saved, err := chartutil.Save(ch, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cache, "evil.tgz"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	index := "apiVersion: v1\nentries:\n  demo:\n    - name: demo\n      version: 0.1.0\n      apiVersion: v2\n      urls: [demo-0.1.0.tgz]\n      digest: sha256:../../../evil\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/charts/index.yaml" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(index))
	}))
	t.Cleanup(srv.Close)
	cfg := "environments:\n  - name: dev\n    releases:\n      - {name: a, chart: demo, version: 0.1.0, repo: " + srv.URL + "/charts}\n"
	if err := os.WriteFile(filepath.Join(repo, "digitops.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return repo
}

// indent prefixes every line of s.
func indent(s, prefix string) string {
	lines := strings.SplitAfter(strings.TrimSuffix(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "") + "\n"
}
