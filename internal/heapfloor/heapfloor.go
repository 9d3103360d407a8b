package heapfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// liveHeapMetric is the runtime metric of the bytes the last collection
// found live.
const liveHeapMetric = "/gc/heap/live:bytes"

// Start keeps at least floor bytes of heap growth between two collections
// (see the package doc), from the next collection on. It does nothing
// when the GC percent is not positive (GOGC=off) or floor is 0. The
// returned stop ends it and puts the GC percent back as Start found it.
func Start(floor uint64) (stop func()) {
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	if base <= 0 || floor == 0 {
		return func() {}
	}
	t := &tuner{floor: floor, base: base, sample: []metrics.Sample{{Name: liveHeapMetric}}}
	t.arm()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if !t.stopped {
			t.stopped = true
			debug.SetGCPercent(base)
		}
	}
}

// tuner sets the GC percent after each collection.
type tuner struct {
	floor  uint64
	base   int
	sample []metrics.Sample
	// mu orders a tune with stop: none sets the percent after stop.
	mu      sync.Mutex
	stopped bool
}

// arm has tune run once the next collection has found a fresh object
// unreachable: after each collection, for as long as it is not stopped.
func (t *tuner) arm() {
	runtime.AddCleanup(new([64]byte), func(t *tuner) {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.stopped {
			return
		}
		t.tune()
		t.arm()
	}, t)
}

// tune sets the GC percent for the heap the last collection found live.
func (t *tuner) tune() {
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	debug.SetGCPercent(percentFor(t.sample[0].Value.Uint64(), t.floor, t.base))
}

// percentFor is the GC percent that lets a heap of live bytes grow by at
// least floor bytes before the next collection, and never less than base
// (the percent without a floor).
func percentFor(live, floor uint64, base int) int {
	if live == 0 {
		live = 1
	}
	p := (floor*100 + live - 1) / live
	if p <= uint64(base) {
		return base
	}
	if p > maxPercent {
		return maxPercent
	}
	return int(p)
}

// maxPercent bounds the percent on a nearly empty heap.
const maxPercent = 10000
