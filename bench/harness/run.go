package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/digitops/digitops/bench/gen"
	"github.com/digitops/digitops/internal/testenv"
	"github.com/digitops/digitops/source/manifest/loader"
)

// Scenarios.
const (
	// ScenarioCold installs every release on an empty cluster.
	ScenarioCold = "cold"
	// ScenarioNoop syncs with nothing changed.
	ScenarioNoop = "noop"
	// ScenarioImage syncs after one service's image tag changed in Git.
	ScenarioImage = "image"
	// ScenarioDrift syncs after one Deployment was scaled by hand.
	ScenarioDrift = "drift"
	// ScenarioEnvEdit syncs after one key of one service's section of the
	// environment file changed (its replicas). Every release gets the
	// whole file as values, so every release's values change; only the
	// edited service's render does.
	ScenarioEnvEdit = "env"
)

// AllScenarios are the scenarios in the order they run on one cluster.
var AllScenarios = []string{ScenarioCold, ScenarioNoop, ScenarioImage, ScenarioDrift, ScenarioEnvEdit}

// Config says what to benchmark.
type Config struct {
	// Services is the number of services of the environment.
	Services int
	// Runs is the number of fresh clusters per tool.
	Runs int
	// Repeat is the number of no-op syncs measured on each cluster.
	Repeat int
	// Scenarios to run, a subset of AllScenarios in that order; cold always
	// runs (the others need it), measured or not.
	Scenarios []string
	// Tools to run, by name; empty means every tool whose binaries exist.
	Tools []string
	// Bins are the programs.
	Bins Binaries
	// WorkDir holds the workspaces and logs; empty means a temporary dir.
	WorkDir string
	// Log receives progress.
	Log *slog.Logger
	// Hold keeps the last run's control plane and repository after its
	// scenarios, logging how to run the tool against them, until ctx ends
	// (Ctrl-C): for repeated experiments without a cold install each.
	Hold bool
}

// Results are the samples of one configuration.
type Results struct {
	// Config is what ran.
	Config Config
	// Tools are the tools that ran, in order.
	Tools []string
	// Skipped says why a tool did not run, by tool.
	Skipped map[string]string
	// Samples by tool, then scenario.
	Samples map[string]map[string][]Sample
	// RenderPasses are the times of one client-side render of the whole
	// environment (renderEnvironment, the Helm SDK as `helm template`
	// renders), one per digitops run when the env scenario ran: what the
	// env edit may cost on top of a no-op.
	RenderPasses []time.Duration
	// ParallelRenderPasses are the same pass on RenderWorkers goroutines
	// (renderEnvironmentParallel, as the render floor renders), timed
	// after each of RenderPasses.
	ParallelRenderPasses []time.Duration
	// RenderWorkers is GOMAXPROCS: the parallel pass's workers, and the
	// render floor's (its child process inherits the environment).
	RenderWorkers int
	// Elapsed is the time the whole configuration took.
	Elapsed time.Duration
}

// workspace is one tool's run on one fresh cluster.
type workspace struct {
	dir, repo, kubeconfig string
	genOpts               gen.Options
	generated             *gen.Repo
	cs                    kubernetes.Interface
	meta                  metadata.Interface
	rendered              []rendered
	imageService          string
	driftService          string
	envService            string
	images                int
	envEdits              int
	launcher              string
	// floorRevisions are the revisions of the release records the floor
	// applied, by release (1 after cold).
	floorRevisions map[string]int
}

// nextFloorRevision is the revision of the floor's next record of release.
func (ws *workspace) nextFloorRevision(release string) int {
	if ws.floorRevisions == nil {
		ws.floorRevisions = map[string]int{}
	}
	v := max(ws.floorRevisions[release], 1) + 1
	ws.floorRevisions[release] = v
	return v
}

func (ws *workspace) coldObject(kind, name string) *unstructured.Unstructured {
	for _, r := range ws.rendered {
		for _, o := range r.objects {
			if o.GetKind() == kind && o.GetName() == name {
				return o
			}
		}
	}
	return nil
}

// tools returns the tools cfg asks for and why others are left out.
func (cfg Config) tools() ([]tool, map[string]string) {
	b := cfg.Bins
	skipped := map[string]string{}
	var all []tool
	missing := func(name string, bins ...string) bool {
		for _, p := range bins {
			if p == "" {
				skipped[name] = "not built (run bench/peers.sh)"
				return true
			}
			if _, err := os.Stat(p); err != nil {
				skipped[name] = fmt.Sprintf("%s is missing (run bench/peers.sh)", p)
				return true
			}
		}
		return false
	}
	if !missing(ToolDigitops, b.Digitops) {
		all = append(all, digitopsTool{bin: b.Digitops})
	}
	if !missing(ToolHelmfile, b.Helmfile, b.Helm) {
		all = append(all, helmfileTool{bin: b.Helmfile, helm: b.Helm})
	}
	if !missing(ToolDeployer, b.Helm, b.Kubectl) {
		all = append(all, deployerTool{helm: b.Helm, kubectl: b.Kubectl, self: b.Self})
	}
	all = append(all, floorTool{self: b.Self}, renderFloorTool{self: b.Self})
	if len(cfg.Tools) == 0 {
		return all, skipped
	}
	var out []tool
	for _, t := range all {
		for _, want := range cfg.Tools {
			if t.name() == want {
				out = append(out, t)
			}
		}
	}
	for _, want := range cfg.Tools {
		if _, ok := skipped[want]; !ok && !contains(toolNames(out), want) {
			skipped[want] = "unknown tool"
		}
	}
	for name := range skipped {
		if !contains(cfg.Tools, name) {
			delete(skipped, name)
		}
	}
	return out, skipped
}

// Run runs the benchmark described by cfg.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	start := time.Now()
	if len(cfg.Bins.Self) == 0 {
		return nil, fmt.Errorf("unable to run the benchmark: Binaries.Self (this program, for the child commands) is not set")
	}
	// envtest logs through controller-runtime; the harness has nothing to
	// say there.
	ctrllog.SetLogger(logr.Discard())
	if cfg.Runs < 1 {
		cfg.Runs = 1
	}
	if cfg.Repeat < 1 {
		cfg.Repeat = 1
	}
	if len(cfg.Scenarios) == 0 {
		cfg.Scenarios = AllScenarios
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.WorkDir == "" {
		d, err := os.MkdirTemp("", "digitops-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		cfg.WorkDir = d
	}
	if cfg.Bins.Rusage == "" {
		l, err := buildLauncher(ctx, cfg.WorkDir)
		if err != nil {
			return nil, err
		}
		cfg.Bins.Rusage = l
	}
	tools, skipped := cfg.tools()
	res := &Results{Config: cfg, Tools: toolNames(tools), Skipped: skipped, Samples: map[string]map[string][]Sample{},
		RenderWorkers: runtime.GOMAXPROCS(0)}
	for run := 1; run <= cfg.Runs; run++ {
		// Tools take turns, run by run, so that the machine's other load
		// falls on all of them alike.
		for _, t := range tools {
			samples, passes, err := runOnce(ctx, cfg, t, run)
			if err != nil {
				return res, fmt.Errorf("unable to run %s (run %d): %w", t.name(), run, err)
			}
			if passes.sequential > 0 {
				res.RenderPasses = append(res.RenderPasses, passes.sequential)
				res.ParallelRenderPasses = append(res.ParallelRenderPasses, passes.parallel)
			}
			if res.Samples[t.name()] == nil {
				res.Samples[t.name()] = map[string][]Sample{}
			}
			for sc, s := range samples {
				res.Samples[t.name()][sc] = append(res.Samples[t.name()][sc], s...)
			}
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// renderPasses are the times of one render pass of the environment, one
// release after another and on GOMAXPROCS workers.
type renderPasses struct{ sequential, parallel time.Duration }

// runOnce starts a fresh control plane and runs the scenarios with one tool.
// With digitops and the env scenario, it also times a render pass of the
// environment after the scenarios, both ways (zero otherwise).
func runOnce(ctx context.Context, cfg Config, t tool, run int) (map[string][]Sample, renderPasses, error) {
	dir := filepath.Join(cfg.WorkDir, fmt.Sprintf("n%d-%s-run%d", cfg.Services, t.name(), run))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, renderPasses{}, err
	}
	out, err := runScenarios(ctx, cfg, t, run, dir)
	if err != nil || t.name() != ToolDigitops || !contains(cfg.Scenarios, ScenarioEnvEdit) {
		return out, renderPasses{}, err
	}
	passes, err := timeRenderPasses(ctx, filepath.Join(dir, "repo"))
	if err != nil {
		return nil, renderPasses{}, err
	}
	cfg.Log.Info("measured", "tool", t.name(), "run", run, "services", cfg.Services,
		"renderPass", passes.sequential.Round(time.Millisecond), "parallelRenderPass", passes.parallel.Round(time.Millisecond))
	return out, passes, nil
}

// timeRenderPasses loads the digit environment of repo and times one
// client-side render of all its releases, then one on GOMAXPROCS workers.
func timeRenderPasses(ctx context.Context, repo string) (renderPasses, error) {
	env, err := loader.Environment(ctx, loader.Options{RepoDir: repo}, gen.DigitEnvironment)
	if err != nil {
		return renderPasses{}, err
	}
	var p renderPasses
	start := time.Now()
	if _, err := renderEnvironment(ctx, env, 1); err != nil {
		return renderPasses{}, err
	}
	p.sequential = time.Since(start)
	// The parallel pass should not pay for the sequential one's garbage.
	runtime.GC()
	start = time.Now()
	if _, err := renderEnvironmentParallel(ctx, env, 1, 0); err != nil {
		return renderPasses{}, err
	}
	p.parallel = time.Since(start)
	return p, nil
}

// runScenarios runs the scenarios of cfg with one tool on a fresh control
// plane, in dir.
func runScenarios(ctx context.Context, cfg Config, t tool, run int, dir string) (map[string][]Sample, error) {
	log := cfg.Log.With("tool", t.name(), "run", run, "services", cfg.Services)
	env, err := testenv.Start(ctx, testenv.Options{Dir: filepath.Join(dir, "controlplane")})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := env.Stop(); err != nil {
			log.Warn("stopping the control plane", "error", err)
		}
	}()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		return nil, err
	}
	meta, err := metadata.NewForConfig(env.Config)
	if err != nil {
		return nil, err
	}
	ws := &workspace{dir: dir, launcher: cfg.Bins.Rusage, repo: filepath.Join(dir, "repo"), kubeconfig: env.Kubeconfig, cs: cs, meta: meta,
		genOpts: gen.Options{Dir: filepath.Join(dir, "repo"), Services: cfg.Services, Tags: map[string]string{}, Replicas: map[string]int{}}}
	if ws.generated, err = gen.Generate(ctx, ws.genOpts); err != nil {
		return nil, err
	}
	svcs := ws.generated.Services
	ws.imageService, ws.driftService = svcs[len(svcs)/2].Name, svcs[(len(svcs)/2+1)%len(svcs)].Name
	ws.envService = svcs[(len(svcs)/2+2)%len(svcs)].Name
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gen.Namespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("unable to create namespace %q: %w", gen.Namespace, err)
	}
	if t.name() == ToolFloor {
		denv, err := loader.Environment(ctx, loader.Options{RepoDir: ws.repo}, gen.DigitEnvironment)
		if err != nil {
			return nil, err
		}
		if ws.rendered, err = renderEnvironment(ctx, denv, 1); err != nil {
			return nil, err
		}
	}
	if err := t.prepare(ctx, ws); err != nil {
		return nil, err
	}
	cp, err := newControlPlane(env.Config)
	if err != nil {
		return nil, err
	}
	if cp.apiserver == 0 {
		log.Warn("kube-apiserver process not found: its CPU time is not measured")
	}
	out := map[string][]Sample{}
	for _, sc := range append([]string{ScenarioCold}, without(cfg.Scenarios, ScenarioCold)...) {
		repeat := 1
		if sc == ScenarioNoop {
			repeat = cfg.Repeat
		}
		for range repeat {
			s, err := runScenario(ctx, ws, cp, t, sc)
			if err != nil {
				return nil, err
			}
			if s == nil {
				continue
			}
			log.Info("measured", "scenario", sc, "wall", s.Wall.Round(time.Millisecond), "maxRSS", s.MaxRSS, "requests", s.Total(), "writes", s.Writes(),
				"revisions", s.Revisions, "templates", s.Templates, "ok", s.OK, "note", s.Note)
			if sc != ScenarioCold || contains(cfg.Scenarios, ScenarioCold) {
				out[sc] = append(out[sc], *s)
			}
		}
	}
	if cfg.Hold && run == cfg.Runs {
		hold(ctx, log, ws, t)
	}
	return out, nil
}

// hold logs how to run the tool against the workspace and waits for ctx to
// end, leaving the control plane up meanwhile.
func hold(ctx context.Context, log *slog.Logger, ws *workspace, t tool) {
	cmd, err := t.command(ctx, ws, ScenarioNoop)
	if err != nil || cmd == nil {
		return
	}
	log.Info("holding the control plane until interrupted", "kubeconfig", ws.kubeconfig, "repo", ws.repo, "command", strings.Join(cmd.Args, " "))
	<-ctx.Done()
}

// runScenario sets the scenario up, runs the tool measured, and checks the
// cluster. It returns nil when the tool has nothing to run.
func runScenario(ctx context.Context, ws *workspace, cp *controlPlane, t tool, sc string) (*Sample, error) {
	switch sc {
	case ScenarioImage:
		ws.images++
		ws.genOpts.Tags[ws.imageService] = fmt.Sprintf("v2.9.9-bench%d", ws.images)
		if _, err := gen.Generate(ctx, ws.genOpts); err != nil {
			return nil, err
		}
	case ScenarioEnvEdit:
		// One key of one section of the file every release gets whole.
		ws.envEdits++
		ws.genOpts.Replicas[ws.envService] = 1 + ws.envEdits
		if _, err := gen.Generate(ctx, ws.genOpts); err != nil {
			return nil, err
		}
	case ScenarioDrift:
		// What `kubectl scale` does: a replicas change by another manager.
		scale, err := ws.cs.AppsV1().Deployments(gen.Namespace).GetScale(ctx, ws.driftService, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("unable to read the scale of %q: %w", ws.driftService, err)
		}
		scale.Spec.Replicas = 3
		if _, err := ws.cs.AppsV1().Deployments(gen.Namespace).UpdateScale(ctx, ws.driftService, scale, metav1.UpdateOptions{FieldManager: "kubectl"}); err != nil {
			return nil, fmt.Errorf("unable to scale %q by hand: %w", ws.driftService, err)
		}
	}
	cmd, err := t.command(ctx, ws, sc)
	if err != nil || cmd == nil {
		return nil, err
	}
	// The harness's own reads stay outside the measured window.
	deps, err := deployments(ctx, ws.cs)
	if err != nil {
		return nil, err
	}
	revs, err := helmRevisions(ctx, ws.meta)
	if err != nil {
		return nil, err
	}
	before, err := cp.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	u, runErr := runMeasured(ctx, ws.launcher, cmd, filepath.Join(ws.dir, fmt.Sprintf("%s-%d.log", sc, time.Now().UnixNano())))
	after, err := cp.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	s := &Sample{Wall: u.Wall, MaxRSS: u.MaxRSS, CPU: u.CPU}
	since(before, after, s)
	revsAfter, err := helmRevisions(ctx, ws.meta)
	if err != nil {
		return nil, err
	}
	s.Revisions = newRevisions(revs, revsAfter)
	if runErr != nil {
		s.Note = runErr.Error()
		return s, nil
	}
	s.OK, s.Templates, s.Note = check(ctx, ws, sc, deps)
	return s, nil
}

// deployState is what the harness compares of a Deployment before and
// after a sync.
type deployState struct {
	// generation is metadata.generation: it moves with any spec change.
	generation int64
	// template is the pod template, as JSON: when it changes, the pods roll.
	template string
}

// deployments reads the state of every Deployment of the namespace.
func deployments(ctx context.Context, cs kubernetes.Interface) (map[string]deployState, error) {
	l, err := cs.AppsV1().Deployments(gen.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]deployState{}
	for _, d := range l.Items {
		tmpl, err := json.Marshal(d.Spec.Template)
		if err != nil {
			return nil, err
		}
		out[d.Name] = deployState{generation: d.Generation, template: string(tmpl)}
	}
	return out, nil
}

// helmRevisions maps each release to the highest revision among Helm's
// release Secrets (owner=helm) of the namespace, read as metadata only.
// Highest, not a count: Helm's history limit deletes old ones.
func helmRevisions(ctx context.Context, meta metadata.Interface) (map[string]int, error) {
	l, err := meta.Resource(corev1.SchemeGroupVersion.WithResource("secrets")).Namespace(gen.Namespace).
		List(ctx, metav1.ListOptions{LabelSelector: "owner=helm"})
	if err != nil {
		return nil, fmt.Errorf("unable to list Helm's release Secrets: %w", err)
	}
	out := map[string]int{}
	for _, o := range l.Items {
		v, err := strconv.Atoi(o.Labels["version"])
		if err != nil {
			continue
		}
		out[o.Labels["name"]] = max(out[o.Labels["name"]], v)
	}
	return out, nil
}

// newRevisions is the number of revisions Helm's storage gained between
// two helmRevisions.
func newRevisions(before, after map[string]int) int {
	n := 0
	for name, v := range after {
		n += max(0, v-before[name])
	}
	return n
}

// check says whether the cluster is what the scenario wants and how many
// pod templates the sync changed (each rolls its pods), and notes how many
// Deployments it changed at all (metadata.generation moved).
func check(ctx context.Context, ws *workspace, sc string, before map[string]deployState) (bool, int, string) {
	l, err := ws.cs.AppsV1().Deployments(gen.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, 0, err.Error()
	}
	changed, templates := 0, 0
	var notes []string
	ok := len(l.Items) == len(ws.generated.Services)
	if !ok {
		notes = append(notes, fmt.Sprintf("%d of %d Deployments", len(l.Items), len(ws.generated.Services)))
	}
	for _, d := range l.Items {
		if b, had := before[d.Name]; had {
			if b.generation != d.Generation {
				changed++
			}
			if tmpl, err := json.Marshal(d.Spec.Template); err == nil && string(tmpl) != b.template {
				templates++
			}
		}
		switch {
		case sc == ScenarioImage && d.Name == ws.imageService:
			img := d.Spec.Template.Spec.Containers[0].Image
			if want := ws.genOpts.Tags[ws.imageService]; !strings.HasSuffix(img, ":"+want) {
				ok = false
				notes = append(notes, fmt.Sprintf("image %s, want tag %s", img, want))
			}
		case sc == ScenarioEnvEdit && d.Name == ws.envService:
			if want := ws.genOpts.Replicas[ws.envService]; d.Spec.Replicas == nil || int(*d.Spec.Replicas) != want {
				ok = false
				notes = append(notes, fmt.Sprintf("replicas of %s not %d", d.Name, want))
			}
		case sc == ScenarioDrift && d.Name == ws.driftService:
			if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
				ok = false
				notes = append(notes, "drift not corrected")
			} else {
				notes = append(notes, "drift corrected")
			}
		}
	}
	if sc != ScenarioCold {
		notes = append(notes, fmt.Sprintf("%d Deployments changed", changed))
	}
	return ok, templates, strings.Join(notes, "; ")
}

func toolNames(ts []tool) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.name()
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func without(list []string, s string) []string {
	var out []string
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}
