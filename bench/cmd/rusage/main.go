// Command rusage runs a program and writes what wait4 says of it (wall
// time, peak RSS of the largest process of its tree, CPU time) as JSON to a
// file:
//
//	rusage OUT.json PROGRAM ARGS...
//
// The benchmark harness starts every tool through it. It must stay small
// (the standard library only): Linux carries the high-water RSS of the
// address space a process had before exec into its usage, so a tool
// started straight from the big harness would report at least the
// harness's size.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

type usage struct {
	Wall   time.Duration `json:"wall"`
	MaxRSS int64         `json:"maxRSS"`
	CPU    time.Duration `json:"cpu"`
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: rusage OUT.json PROGRAM ARGS...")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[2], os.Args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	runErr := cmd.Run()
	u := usage{Wall: time.Since(start)}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			u.MaxRSS = ru.Maxrss * 1024
			u.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	b, _ := json.Marshal(u)
	if err := os.WriteFile(os.Args[1], b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if runErr != nil {
		fmt.Fprintln(os.Stderr, runErr)
		if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() > 0 {
			os.Exit(cmd.ProcessState.ExitCode())
		}
		os.Exit(1)
	}
}
