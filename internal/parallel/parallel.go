package parallel

import (
	"context"
	"runtime"
	"sync"
)

// ForEach calls fn(i) for every i in [0, n) on at most workers goroutines
// (GOMAXPROCS when workers < 1) and returns when all calls have returned.
// Once ctx is done, indexes not yet started are not started; fn sees ctx and
// decides itself how to stop.
func ForEach(ctx context.Context, n, workers int, fn func(ctx context.Context, i int)) {
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(ctx, i)
			}
		}()
	}
	defer func() {
		close(next)
		wg.Wait()
	}()
	for i := range n {
		if ctx.Err() != nil {
			return
		}
		select {
		case next <- i:
		case <-ctx.Done():
			return
		}
	}
}
