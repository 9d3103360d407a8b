package heapfloor

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestPercentFor(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name  string
		live  uint64 // bytes the last collection found live
		floor uint64 // the growth to allow at least
		base  int    // the percent without a floor
		want  int
	}{
		{name: "a small heap grows by the floor", live: 8 * mib, floor: 32 * mib, base: 100, want: 400},
		{name: "rounded up", live: 12 * mib, floor: 32 * mib, base: 100, want: 267},
		{name: "a heap as large as the floor keeps the base", live: 32 * mib, floor: 32 * mib, base: 100, want: 100},
		{name: "a large heap keeps the base", live: 200 * mib, floor: 32 * mib, base: 100, want: 100},
		{name: "a higher GOGC is kept", live: 8 * mib, floor: 32 * mib, base: 800, want: 800},
		{name: "a nearly empty heap is bounded", live: 1, floor: 32 * mib, base: 100, want: maxPercent},
		{name: "nothing live", live: 0, floor: 32 * mib, base: 100, want: maxPercent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentFor(tt.live, tt.floor, tt.base); got != tt.want {
				t.Errorf("percentFor(%d, %d, %d) = %d, want %d", tt.live, tt.floor, tt.base, got, tt.want)
			}
		})
	}
}

// gcPercent reads the GC percent without changing it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestStart: after a collection of a small heap the percent is raised,
// and stop puts back the percent Start found.
func TestStart(t *testing.T) {
	before := gcPercent()
	if before <= 0 {
		t.Skipf("skipping: GOGC=off (GC percent %d), and Start does nothing then (TestStart_gcOff)", before)
	}
	stop := Start(1 << 30) // far more than this test's live heap
	raised := false
	for i := 0; i < 20 && !raised; i++ {
		runtime.GC()
		runtime.GC() // the cleanup runs after the collection that found its object dead
		raised = gcPercent() > before
	}
	stop()
	if !raised {
		t.Errorf("GC percent stayed %d after collections of a heap far below the floor", before)
	}
	if after := gcPercent(); after != before {
		t.Errorf("GC percent after stop = %d, want %d as before Start", after, before)
	}
}

// TestStart_gcOff: with the GC off, Start changes nothing.
func TestStart_gcOff(t *testing.T) {
	old := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(old)
	stop := Start(1 << 30)
	runtime.GC()
	runtime.GC()
	stop()
	if p := gcPercent(); p != -1 {
		t.Errorf("GC percent = %d with the GC off, want -1", p)
	}
}
