package harness

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"sigs.k8s.io/yaml"

	"github.com/digitops/digitops/bench/gen"
	"github.com/digitops/digitops/source/manifest/loader"
)

// Tool names.
const (
	ToolDigitops = "digitops"
	ToolHelmfile = "helmfile"
	ToolDeployer = "deployer"
	ToolFloor    = "floor"
	// ToolRenderFloor is the floor with the render in its measured time.
	ToolRenderFloor = "render-floor"
)

// Binaries are the programs the tools run; an empty path leaves that tool
// out.
type Binaries struct {
	// Digitops is the digitops CLI.
	Digitops string
	// Helm is the helm v3 CLI (helmfile and the deployer's way use it).
	Helm string
	// Helmfile is the helmfile CLI.
	Helmfile string
	// Kubectl is the kubectl CLI (the deployer's way uses it).
	Kubectl string
	// Self runs the harness's own child commands (the floors, deployer): the
	// program and its leading arguments.
	Self []string
	// Rusage is the bench/cmd/rusage launcher; empty means build it.
	Rusage string
}

// tool is one way of syncing an environment.
type tool interface {
	name() string
	// prepare readies a fresh workspace; it is not timed.
	prepare(ctx context.Context, ws *workspace) error
	// command is what syncs the workspace in scenario sc, nil when the
	// tool has nothing to do there.
	command(ctx context.Context, ws *workspace, sc string) (*exec.Cmd, error)
}

// HelmfileConcurrency is helmfile sync's --concurrency: digitops's default
// release concurrency, so that neither tool has more helm work in flight.
const HelmfileConcurrency = 4

type digitopsTool struct{ bin string }

func (digitopsTool) name() string                                     { return ToolDigitops }
func (digitopsTool) prepare(ctx context.Context, ws *workspace) error { return nil }
func (t digitopsTool) command(ctx context.Context, ws *workspace, sc string) (*exec.Cmd, error) {
	return exec.CommandContext(ctx, t.bin, "apply", "--repo", ws.repo, "--env", gen.DigitEnvironment, "--kubeconfig", ws.kubeconfig), nil
}

type helmfileTool struct{ bin, helm string }

func (helmfileTool) name() string                                     { return ToolHelmfile }
func (helmfileTool) prepare(ctx context.Context, ws *workspace) error { return nil }
func (t helmfileTool) command(ctx context.Context, ws *workspace, sc string) (*exec.Cmd, error) {
	cmd := exec.CommandContext(ctx, t.bin, "--file", filepath.Join(ws.repo, gen.Helmfile), "--helm-binary", t.helm,
		"sync", "--concurrency", strconv.Itoa(HelmfileConcurrency))
	cmd.Env = helmEnv(ws)
	return cmd, nil
}

// helmEnv gives helm a kubeconfig and its own home inside the workspace.
func helmEnv(ws *workspace) []string {
	home := filepath.Join(ws.dir, "helm-home")
	return append(os.Environ(), "KUBECONFIG="+ws.kubeconfig, "HELM_CACHE_HOME="+home+"/cache",
		"HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data")
}

type deployerTool struct {
	helm, kubectl string
	self          []string
}

func (deployerTool) name() string { return ToolDeployer }

// prepare builds each chart's dependencies once: `helm template` needs the
// common chart in charts/, as DIGIT's checkouts have it after `helm dep`.
func (t deployerTool) prepare(ctx context.Context, ws *workspace) error {
	for _, s := range ws.generated.Services {
		cmd := exec.CommandContext(ctx, t.helm, "dependency", "build", filepath.Join(ws.repo, s.Chart))
		cmd.Env = helmEnv(ws)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("unable to build the dependencies of chart %q: %w: %s", s.Chart, err, out)
		}
	}
	return nil
}

func (t deployerTool) command(ctx context.Context, ws *workspace, sc string) (*exec.Cmd, error) {
	args := append(append([]string{}, t.self[1:]...), childDeployer, ws.repo, ws.kubeconfig, t.helm, t.kubectl)
	cmd := exec.CommandContext(ctx, t.self[0], args...)
	cmd.Env = append(helmEnv(ws), childEnv+"=1")
	return cmd, nil
}

type floorTool struct{ self []string }

func (floorTool) name() string                                     { return ToolFloor }
func (floorTool) prepare(ctx context.Context, ws *workspace) error { return nil }

// command applies what the scenario changes: everything for cold, the
// changed release and its new record for image and env, the edited object
// for drift; a no-op has no floor work.
func (t floorTool) command(ctx context.Context, ws *workspace, sc string) (*exec.Cmd, error) {
	f := filepath.Join(ws.dir, "floor-"+sc+".yaml")
	var buf bytes.Buffer
	switch sc {
	case ScenarioCold:
		for _, r := range ws.rendered {
			if err := writeObjects(&buf, append(r.objects, r.record)); err != nil {
				return nil, err
			}
		}
	case ScenarioImage, ScenarioEnvEdit:
		// Only the release whose render changed, and its new record.
		name := ws.imageService
		if sc == ScenarioEnvEdit {
			name = ws.envService
		}
		env, err := loader.Environment(ctx, loader.Options{RepoDir: ws.repo}, gen.DigitEnvironment)
		if err != nil {
			return nil, err
		}
		spec, _ := env.Release(name)
		env.Releases = append(env.Releases[:0], spec)
		rs, err := renderEnvironment(ctx, env, ws.nextFloorRevision(name))
		if err != nil {
			return nil, err
		}
		if err := writeObjects(&buf, append(rs[0].objects, rs[0].record)); err != nil {
			return nil, err
		}
	case ScenarioDrift:
		o := ws.coldObject("Deployment", ws.driftService)
		if o == nil {
			return nil, fmt.Errorf("unable to find the Deployment of %q in the rendered environment", ws.driftService)
		}
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, err
		}
		buf.Write(b)
	default:
		return nil, nil
	}
	if err := os.WriteFile(f, buf.Bytes(), 0o644); err != nil {
		return nil, err
	}
	args := append(append([]string{}, t.self[1:]...), childFloor, ws.kubeconfig, f)
	cmd := exec.CommandContext(ctx, t.self[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	return cmd, nil
}

type renderFloorTool struct{ self []string }

func (renderFloorTool) name() string                                     { return ToolRenderFloor }
func (renderFloorTool) prepare(ctx context.Context, ws *workspace) error { return nil }

// command renders and applies the whole environment for cold, and nothing
// else: the render floor is the yardstick of the cold install (what a tool
// adds to the render every tool must do). What an image change or an env
// edit must render depends on what a tool can tell is unchanged, the env
// edit's render pass is timed apart (Results.ParallelRenderPasses), and a
// drift correction or a no-op needs no render: the floor's figures stand
// for those.
func (t renderFloorTool) command(ctx context.Context, ws *workspace, sc string) (*exec.Cmd, error) {
	if sc != ScenarioCold {
		return nil, nil
	}
	args := append(append([]string{}, t.self[1:]...), childRenderFloor, ws.kubeconfig, ws.repo)
	cmd := exec.CommandContext(ctx, t.self[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	return cmd, nil
}

// Child commands the harness runs as separate processes (of itself), so
// that they are measured like the other tools.
const (
	childEnv         = "DIGITOPS_BENCH_CHILD"
	childFloor       = "floor"
	childRenderFloor = "render-floor"
	childDeployer    = "deployer"
)

// IsChild reports whether this process was started as one of the harness's
// child commands; then RunChild must be called with the arguments.
func IsChild() bool { return os.Getenv(childEnv) != "" }

// RunChild runs a child command: "floor KUBECONFIG FILE...",
// "render-floor KUBECONFIG REPO" or "deployer REPO KUBECONFIG HELM KUBECTL".
func RunChild(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("unable to run a child command: none given")
	}
	switch {
	case args[0] == childFloor && len(args) >= 3:
		return runFloor(ctx, args[1], args[2:])
	case args[0] == childRenderFloor && len(args) == 3:
		return runRenderFloor(ctx, args[1], args[2])
	case args[0] == childDeployer && len(args) == 5:
		return runDeployer(ctx, args[1], args[2], args[3], args[4])
	}
	return fmt.Errorf("unable to run child command %q with %d arguments", args[0], len(args)-1)
}

// runDeployer does what DIGIT's Go deployer does, service after service in
// release-chart order: `helm template` of the chart with the environment's
// values, piped into `kubectl apply`.
func runDeployer(ctx context.Context, repo, kubeconfig, helm, kubectl string) error {
	env, err := loader.Environment(ctx, loader.Options{RepoDir: repo}, gen.DigitEnvironment)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "bench-deployer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, r := range env.Releases {
		vals, err := yaml.Marshal(r.MergedValues())
		if err != nil {
			return err
		}
		vf := filepath.Join(tmp, r.Name+".yaml")
		if err := os.WriteFile(vf, vals, 0o600); err != nil {
			return err
		}
		tmpl := exec.CommandContext(ctx, helm, "template", r.Name, r.Chart.Path, "--namespace", r.Namespace, "-f", vf)
		apply := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "apply", "--namespace", r.Namespace, "-f", "-")
		var stderr bytes.Buffer
		tmpl.Stderr, apply.Stderr, apply.Stdout = &stderr, &stderr, os.Stdout
		pipe, err := tmpl.StdoutPipe()
		if err != nil {
			return err
		}
		apply.Stdin = pipe
		if err := tmpl.Start(); err != nil {
			return err
		}
		if err := apply.Run(); err != nil {
			_ = tmpl.Wait()
			return fmt.Errorf("unable to apply release %q: %w: %s", r.Name, err, stderr.String())
		}
		if err := tmpl.Wait(); err != nil {
			return fmt.Errorf("unable to render release %q: %w: %s", r.Name, err, stderr.String())
		}
	}
	return nil
}
