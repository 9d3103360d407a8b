package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/digitops/digitops/internal/heapfloor"
)

// heapFloor is the heap growth the garbage collector allows at least
// between two collections (see internal/heapfloor), unless GOGC is set: a
// 40-release environment-file edit keeps 10-15 MB live and collected
// about fifty times with GOGC's default alone.
const heapFloor = 32 << 20

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfiling, err := startProfiling(os.Getenv(profileDirEnv))
	if err != nil {
		fmt.Fprintf(os.Stderr, "digitops: error: %v\n", err)
		os.Exit(1)
	}
	stopHeapFloor := func() {}
	if os.Getenv("GOGC") == "" {
		stopHeapFloor = heapfloor.Start(heapFloor)
	}
	code := run(ctx, os.Args[1:], streams{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	stopHeapFloor()
	stopProfiling()
	stop()
	os.Exit(code)
}

// streams are the command's standard streams.
type streams struct {
	in  io.Reader
	out io.Writer
	err io.Writer
}
