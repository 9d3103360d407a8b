// Command demo runs digitops's main job on a local control plane: it starts
// kube-apiserver, etcd, the controllers, the scheduler and kwok (so pods
// become Ready on a fake node), turns examples/quickstart into a Git
// repository, applies it with bin/digitops, then runs `digitops serve` on it
// until Ctrl-C, and stops every process it started.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/digitops/digitops/internal/fsutil"
	"github.com/digitops/digitops/internal/testenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	dir := flag.String("dir", ".demo", "working directory for the cluster and the repository")
	example := flag.String("example", "examples/quickstart", "example repository to deploy")
	exit := flag.Bool("exit", false, "stop after the apply instead of serving until Ctrl-C")
	listen := flag.String("listen", "127.0.0.1:8080", "address of digitops serve's status page and metrics")
	flag.Parse()

	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(abs); err != nil {
		return err
	}
	fmt.Println("==> starting a local control plane (kube-apiserver, etcd, controllers, scheduler, kwok)")
	start := time.Now()
	env, err := testenv.Start(ctx, testenv.Options{Extras: true, Dir: filepath.Join(abs, "cluster")})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Println("==> stopping the control plane")
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "demo: stopping:", err)
		}
	}()
	fmt.Printf("    ready in %s\n", time.Since(start).Round(time.Millisecond))

	repo := filepath.Join(abs, "repo")
	if err := makeRepo(*example, repo); err != nil {
		return err
	}
	fmt.Printf("==> %s is now a Git repository at %s\n", *example, repo)

	fmt.Println("==> digitops apply")
	apply := exec.CommandContext(ctx, "bin/digitops", "apply", "--repo", repo, "--env", "dev", "--kubeconfig", env.Kubeconfig)
	apply.Stdout, apply.Stderr = os.Stdout, os.Stderr
	if err := apply.Run(); err != nil {
		return fmt.Errorf("digitops apply: %w", err)
	}
	fmt.Println("==> digitops plan (nothing should change)")
	plan := exec.CommandContext(ctx, "bin/digitops", "plan", "--repo", repo, "--env", "dev", "--kubeconfig", env.Kubeconfig)
	plan.Stdout, plan.Stderr = os.Stdout, os.Stderr
	if err := plan.Run(); err != nil {
		return fmt.Errorf("digitops plan: %w", err)
	}
	kubectl := filepath.Join(env.BinDir, "kubectl")
	fmt.Printf(`
Deployed. Look around:
  export KUBECONFIG=%s
  %s get deploy,pods,svc,cm -n egov
  %s get secrets -n egov -l owner=helm --show-labels     # Helm's record, with digitops's digests
  bin/digitops plan --repo %s --env dev                   # edit %s/digitops.yaml and plan again
`, env.Kubeconfig, kubectl, kubectl, repo, repo)
	if *exit {
		return nil
	}
	fmt.Printf("==> digitops serve: keeps the environment in sync; status page at http://%s/ (metrics at /metrics)\n", *listen)
	fmt.Printf("    commit a change in %s and watch it deploy; kubectl edit something and watch drift get corrected\n", repo)
	fmt.Println("    Press Ctrl-C to stop digitops and the control plane.")
	serve := exec.CommandContext(ctx, "bin/digitops", "serve", "--repo", repo, "--kubeconfig", env.Kubeconfig,
		"--listen", *listen, "--interval", "10s", "--drift-interval", "30s", "--cache-dir", filepath.Join(abs, "cache"))
	serve.Stdout, serve.Stderr = os.Stdout, os.Stderr
	serve.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	serve.Cancel = func() error { return serve.Process.Signal(syscall.SIGTERM) }
	serve.WaitDelay = 40 * time.Second
	if err := serve.Run(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("digitops serve: %w", err)
	}
	return nil
}

// makeRepo copies the example to dst and commits it.
func makeRepo(src, dst string) error {
	if err := fsutil.CopyTree(src, dst); err != nil {
		return err
	}
	r, err := git.PlainInit(dst, false)
	if err != nil {
		return err
	}
	wt, err := r.Worktree()
	if err != nil {
		return err
	}
	if err := wt.AddGlob("."); err != nil {
		return err
	}
	_, err = wt.Commit("quickstart environment", &git.CommitOptions{
		Author: &object.Signature{Name: "digitops demo", Email: "demo@digitops.invalid", When: time.Now()},
	})
	return err
}
