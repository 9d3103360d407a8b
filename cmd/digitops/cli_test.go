package main

import (
	"bytes"
	"context"
	"flag"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/digitops/digitops/internal/fsutil"
	"github.com/digitops/digitops/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// cliResult is what one run of the command line produced.
type cliResult struct {
	code        int
	out, stderr string
}

// runCLI runs the command line as main would, with non-terminal streams.
func runCLI(t *testing.T, ctx context.Context, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(ctx, args, streams{in: strings.NewReader(""), out: &out, err: &errb})
	return cliResult{code: code, out: out.String(), stderr: errb.String()}
}

// timings matches the parts of the output that change from run to run.
var timings = regexp.MustCompile(`(elapsed=|duration=| in )[0-9.]+(ms|s|µs|m[0-9.]+s)`)

func assertGolden(t *testing.T, name, got string) {
	t.Helper()
	got = timings.ReplaceAllString(got, "${1}X")
	golden.Check(t, filepath.Join("testdata", name), []byte(got), *update)
}

// copyTree copies the directory src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if err := fsutil.CopyTree(src, dst); err != nil {
		t.Fatal(err)
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// assertNoSecret fails when a planted secret value appears in s.
func assertNoSecret(t *testing.T, what, s string, secrets ...string) {
	t.Helper()
	for _, v := range secrets {
		if strings.Contains(s, v) {
			t.Errorf("%s shows the secret value %q", what, v)
		}
	}
}

func TestPrintVersion(t *testing.T) {
	info := &debug.BuildInfo{
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}},
		Deps: []*debug.Module{
			{Path: "helm.sh/helm/v3", Version: "v3.22.0"},
			{Path: "k8s.io/client-go", Version: "v0.37.0", Replace: &debug.Module{Path: "k8s.io/client-go", Version: "v0.37.2"}},
		},
	}
	var b strings.Builder
	printVersion(&b, "v1.2.3", info)
	for _, want := range []string{"digitops v1.2.3 (revision 0123456789ab, modified)\n", "helm SDK:          v3.22.0", "kubernetes client: v0.37.2", runtime.Version()} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("version output lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	printVersion(&b, "dev", nil)
	if !strings.HasPrefix(b.String(), "digitops dev (revision unknown)\n") || !strings.Contains(b.String(), "helm SDK:          unknown") {
		t.Errorf("without build info:\n%s", b.String())
	}
}
