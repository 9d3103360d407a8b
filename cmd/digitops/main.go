package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfiling, err := startProfiling(os.Getenv(profileDirEnv))
	if err != nil {
		fmt.Fprintf(os.Stderr, "digitops: error: %v\n", err)
		os.Exit(1)
	}
	code := run(ctx, os.Args[1:], streams{in: os.Stdin, out: os.Stdout, err: os.Stderr})
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
