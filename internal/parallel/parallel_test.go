package parallel

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

func TestForEach(t *testing.T) {
	tests := []struct {
		name    string
		n       int // pieces of work
		workers int // bound asked for
		want    int // most goroutines allowed at once
	}{
		{name: "no work", n: 0, workers: 4, want: 0},
		{name: "fewer pieces than workers", n: 3, workers: 8, want: 3},
		{name: "bounded", n: 50, workers: 2, want: 2},
		{name: "one worker is sequential", n: 10, workers: 1, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			seen := make([]int, tt.n)
			var running, most atomic.Int32
			ForEach(context.Background(), tt.n, tt.workers, func(_ context.Context, i int) {
				r := running.Add(1)
				defer running.Add(-1)
				for {
					m := most.Load()
					if r <= m || most.CompareAndSwap(m, r) {
						break
					}
				}
				mu.Lock()
				seen[i]++
				mu.Unlock()
			})
			for i, c := range seen {
				if c != 1 {
					t.Errorf("index %d ran %d times, want once", i, c)
				}
			}
			if int(most.Load()) > tt.want {
				t.Errorf("%d ran at once, want at most %d", most.Load(), tt.want)
			}
		})
	}
}

func TestForEach_cancelledStartsNothingNew(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var ran atomic.Int32
	ForEach(ctx, 100, 1, func(_ context.Context, i int) {
		ran.Add(1)
		if i == 4 {
			cancel()
		}
	})
	// Index 5 may already be handed to the worker when cancel happens.
	if n := ran.Load(); n < 5 || n > 6 {
		t.Errorf("ran %d pieces after cancelling at the fifth, want 5 or 6", n)
	}
}
