package harness

import (
	"strings"
	"testing"
	"time"
)

// runs are samples of the given wall times, ok as the scenario wants or
// not.
func runs(ok bool, walls ...time.Duration) []Sample {
	out := make([]Sample, len(walls))
	for i, w := range walls {
		out[i] = Sample{Wall: w, OK: ok, Requests: map[string]int{"APPLY": 1}}
	}
	return out
}

// coldResults are 40-service results of digitops's and the render floor's
// cold installs (the floor's 1 s too), on 2 render workers.
func coldResults(digitops, renderFloor []Sample) *Results {
	r := &Results{Config: Config{Services: 40}, RenderWorkers: 2, Samples: map[string]map[string][]Sample{
		ToolDigitops: {ScenarioCold: digitops},
		ToolFloor:    {ScenarioCold: runs(true, time.Second)},
	}}
	if renderFloor != nil {
		r.Samples[ToolRenderFloor] = map[string][]Sample{ScenarioCold: renderFloor}
	}
	return r
}

// TestWriteColdTarget judges digitops's cold install against the render
// floor.
func TestWriteColdTarget(t *testing.T) {
	const prefix = "- N=40 cold install against the render floor: "
	tests := []struct {
		name string
		// digitops and renderFloor are the cold samples; no render floor
		// means it did not run.
		digitops, renderFloor []Sample
		// want is the line written, empty for none; met is the verdict.
		want string
		met  bool
	}{
		{
			name:     "at the limit",
			digitops: runs(true, 3*time.Second, 2900*time.Millisecond, 4*time.Second), renderFloor: runs(true, 2*time.Second),
			want: prefix + "digitops 3.00 s ÷ render floor 2.00 s (load, Helm SDK render of all 40 releases on 2 workers, the floor's applies) = 1.50, target ≤ 1.50: met\n",
			met:  true,
		},
		{
			name:     "over it",
			digitops: runs(true, 3200*time.Millisecond), renderFloor: runs(true, 2*time.Second),
			want: prefix + "digitops 3.20 s ÷ render floor 2.00 s (load, Helm SDK render of all 40 releases on 2 workers, the floor's applies) = 1.60, target ≤ 1.50: missed\n",
		},
		{
			name:     "a render floor run failed",
			digitops: runs(true, time.Second), renderFloor: append(runs(true, 2*time.Second), runs(false, 2*time.Second)...),
			want: prefix + "digitops 1.00 s ÷ render floor 2.00 s (load, Helm SDK render of all 40 releases on 2 workers, the floor's applies) = 0.50, target ≤ 1.50: " +
				"not judged (1/1 digitops and 1/2 render floor runs ended as the scenario wants)\n",
		},
		{
			name:     "no render floor",
			digitops: runs(true, time.Second),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := coldResults(tt.digitops, tt.renderFloor)
			var b strings.Builder
			if err := r.WriteColdTarget(&b); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("wrote\n%q\nwant\n%q", b.String(), tt.want)
			}
			c, ok := r.ColdVsRenderFloor()
			if ok != (tt.renderFloor != nil) || c.Met() != tt.met {
				t.Errorf("ColdVsRenderFloor: ok %v, met %v; want %v, %v", ok, c.Met(), tt.renderFloor != nil, tt.met)
			}
		})
	}
}

// TestWriteRatios_renderFloor puts the render floor's cold ratio beside
// the floor's.
func TestWriteRatios_renderFloor(t *testing.T) {
	r := coldResults(runs(true, 3*time.Second), runs(true, 2*time.Second))
	var b strings.Builder
	if err := r.WriteRatios(&b); err != nil {
		t.Fatal(err)
	}
	if want := "- N=40 cold: digitops ÷ floor = 3.00, digitops ÷ render-floor = 1.50\n"; b.String() != want {
		t.Errorf("wrote %q, want %q", b.String(), want)
	}
}

// TestWriteEnvEdit_parallelPass keeps the budget of the sequential pass and
// writes the parallel pass's as a second line, when one was timed.
func TestWriteEnvEdit_parallelPass(t *testing.T) {
	first := "- N=40 env edit (one service's replicas in the environment file), digitops: 1 new Helm revisions, target 1 " +
		"(the releases whose render changed): met; 0 pod templates changed; 1 requests, 1 writes; " +
		"wall 1.50 s, target ≤ no-op 0.40 s + one render pass 1.20 s (Helm SDK, client side, all 40 releases, one after another) = 1.60 s: met\n"
	tests := []struct {
		name string
		// parallel are the parallel passes timed.
		parallel []time.Duration
		// want is what is written.
		want string
	}{
		{name: "no parallel pass", want: first},
		{
			name: "parallel pass", parallel: []time.Duration{700 * time.Millisecond, 600 * time.Millisecond, 800 * time.Millisecond},
			want: first + "- N=40 env edit against the parallel render pass (a second budget; the one above stands), digitops: " +
				"wall 1.50 s, target ≤ no-op 0.40 s + one parallel render pass 0.70 s (Helm SDK, client side, all 40 releases on 2 workers) = 1.10 s: missed\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edit := runs(true, 1500*time.Millisecond)
			edit[0].Revisions = 1
			r := &Results{Config: Config{Services: 40}, RenderWorkers: 2, Samples: map[string]map[string][]Sample{
				ToolDigitops: {ScenarioEnvEdit: edit, ScenarioNoop: runs(true, 400*time.Millisecond)},
			}, RenderPasses: []time.Duration{1200 * time.Millisecond}, ParallelRenderPasses: tt.parallel}
			var b strings.Builder
			if err := r.WriteEnvEdit(&b); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("wrote\n%q\nwant\n%q", b.String(), tt.want)
			}
		})
	}
}
