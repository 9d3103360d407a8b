package harness

import (
	"context"
	"reflect"
	"testing"
)

// TestConfigTools_renderFloor selects the render floor by name, beside the
// floor, and leaves the tools not asked for out.
func TestConfigTools_renderFloor(t *testing.T) {
	tests := []struct {
		name string
		// want are the tools asked for, and what runs.
		want []string
	}{
		{name: "alone", want: []string{ToolRenderFloor}},
		{name: "with the floor", want: []string{ToolFloor, ToolRenderFloor}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Tools: tt.want, Bins: Binaries{Self: []string{"bench"}}}
			got, skipped := cfg.tools()
			if !reflect.DeepEqual(toolNames(got), tt.want) || len(skipped) != 0 {
				t.Fatalf("tools %v, skipped %v; want %v, none skipped", toolNames(got), skipped, tt.want)
			}
		})
	}
}

// TestRenderFloorTool_coldOnly checks that the render floor runs its child
// command for cold, on the workspace's repository, and nothing otherwise.
func TestRenderFloorTool_coldOnly(t *testing.T) {
	ctx := context.Background()
	tl := renderFloorTool{self: []string{"/bin/bench", "-test.run=x"}}
	ws := &workspace{repo: "/w/repo", kubeconfig: "/w/kubeconfig"}
	for _, sc := range AllScenarios {
		cmd, err := tl.command(ctx, ws, sc)
		if err != nil {
			t.Fatalf("%s: %v", sc, err)
		}
		if sc != ScenarioCold {
			if cmd != nil {
				t.Errorf("%s: runs %v, want nothing", sc, cmd.Args)
			}
			continue
		}
		want := []string{"/bin/bench", "-test.run=x", childRenderFloor, "/w/kubeconfig", "/w/repo"}
		if cmd == nil || !reflect.DeepEqual(cmd.Args, want) {
			t.Fatalf("cold: runs %v, want %v", cmd, want)
		}
	}
}
