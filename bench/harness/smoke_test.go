package harness_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/digitops/digitops/bench/harness"
	"github.com/digitops/digitops/internal/testenv"
)

// TestMain lets the test binary serve as the harness's child commands.
func TestMain(m *testing.M) {
	if harness.IsChild() {
		if err := harness.RunChild(context.Background(), os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSmoke runs the whole harness, every scenario, once at N=5 on the real
// control plane, with digitops and the two floors, and with helmfile and the
// deployer's way when bench/peers.sh has built them, so that the harness
// cannot rot.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("the smoke benchmark needs the control plane")
	}
	if _, err := testenv.BinDir(false); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the control plane is required in CI: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	ctx := context.Background()
	root := moduleRoot(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bins := harness.DefaultBinaries(root, []string{self})
	bins.Digitops = filepath.Join(t.TempDir(), "digitops")
	build := exec.CommandContext(ctx, "go", "build", "-o", bins.Digitops, "./cmd/digitops")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("unable to build digitops: %v: %s", err, out)
	}
	res, err := harness.Run(ctx, harness.Config{Services: 5, Runs: 1, Bins: bins, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	if err := res.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("smoke results (N=5, one run):\n%s", table.String())
	for name, why := range res.Skipped {
		t.Logf("peer %s not measured: %s", name, why)
	}
	for _, tool := range res.Tools {
		for _, sc := range harness.AllScenarios {
			st, ok := res.Stat(tool, sc)
			if !ok {
				if tool == harness.ToolFloor && sc == harness.ScenarioNoop {
					continue // the floor of a no-op is no work at all
				}
				if tool == harness.ToolRenderFloor && sc != harness.ScenarioCold {
					continue // the render floor measures the cold install only
				}
				t.Errorf("%s %s: no sample", tool, sc)
				continue
			}
			if strings.HasPrefix(st.Note, "unable to run") {
				t.Errorf("%s %s: %s", tool, sc, st.Note)
				continue
			}
			if st.OK != st.N && sc != harness.ScenarioDrift {
				t.Errorf("%s %s: the cluster is not as the scenario wants: %s", tool, sc, st.Note)
			}
			if st.Wall <= 0 || st.MaxRSS <= 0 || st.Requests <= 0 {
				t.Errorf("%s %s: not measured: wall %v, RSS %d, requests %d", tool, sc, st.Wall, st.MaxRSS, st.Requests)
			}
		}
	}
	if st, ok := res.Stat(harness.ToolFloor, harness.ScenarioDrift); ok && st.OK != st.N {
		t.Errorf("the floor did not put the scaled Deployment back: %s", st.Note)
	}
	// An environment-file edit upgrades only the release whose render it
	// changes; the others' records are rewritten in place.
	for sc, want := range map[string]int{harness.ScenarioNoop: 0, harness.ScenarioImage: 1, harness.ScenarioEnvEdit: 1} {
		if st, ok := res.Stat(harness.ToolDigitops, sc); ok && st.Revisions != want {
			t.Errorf("digitops %s: %d new Helm revisions, want %d", sc, st.Revisions, want)
		}
	}
	if e, ok := res.EnvEdit(); !ok || e.RenderPass <= 0 || e.ParallelRenderPass <= 0 {
		t.Errorf("digitops env edit: no render pass timed, or no parallel one")
	}
	if _, ok := res.ColdVsRenderFloor(); !ok {
		t.Errorf("no cold install of digitops against the render floor")
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}
