package testenv

import (
	"context"
	"os"
	"testing"
)

// ForTest starts a control plane for a test and stops it when the test ends.
// The tests that call it are the control-plane tests: `go test -short`
// (make unit) skips them, saying so, and runs the unit tests alone. When
// the binaries are missing the test fails in CI (CI=true) and is skipped
// elsewhere, with the command that builds them either way.
func ForTest(t testing.TB, opts Options) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping a control-plane test: -short runs the unit tests only (make test runs both)")
	}
	if _, err := BinDir(opts.Extras); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the control plane is required in CI: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	env, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("unable to start the control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Logf("stopping the control plane: %v", err)
		}
	})
	return env
}
