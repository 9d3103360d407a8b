package harness

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/digitops/digitops/bench/gen"
	"github.com/digitops/digitops/internal/testenv"
)

// ReactionConfig says how to measure digitops serve's reaction times.
type ReactionConfig struct {
	// Services is the size of the environment.
	Services int
	// Samples is the number of events of each kind.
	Samples int
	// Digitops is the binary.
	Digitops string
	// WorkDir holds the workspace and logs.
	WorkDir string
	// Log receives progress.
	Log *slog.Logger
}

// ReactionResults are the measured reaction times.
type ReactionResults struct {
	Config ReactionConfig
	// Drift is, per sample, the time from a hand edit of a Deployment to
	// the Deployment put back.
	Drift []time.Duration
	// Commit is, per sample, the time from the webhook request of a
	// commit that changes one image tag to the Deployment updated.
	Commit []time.Duration
	// IdleRequests is the number of API requests the apiserver served in
	// IdleWindow with nothing happening (all clients, the control plane's
	// own included).
	IdleRequests int
	IdleWindow   time.Duration
	Elapsed      time.Duration
}

const reactionSecret = "bench-webhook-secret"

// RunReaction starts a control plane and `digitops serve` on a generated
// DIGIT-shaped environment in a local Git repository, and measures, once
// the environment is in sync: hand edits of one Deployment each (replicas)
// until corrected, and commits changing one image tag each, announced by a
// signed GitHub webhook, until the Deployment carries the new image (the
// object updated, not its pods ready). Interval and drift interval are an
// hour: only the watch and the webhook can explain a reaction.
func RunReaction(ctx context.Context, cfg ReactionConfig) (*ReactionResults, error) {
	start := time.Now()
	dir := filepath.Join(cfg.WorkDir, fmt.Sprintf("reaction-n%d", cfg.Services))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	env, err := testenv.Start(ctx, testenv.Options{Dir: filepath.Join(dir, "controlplane")})
	if err != nil {
		return nil, err
	}
	defer env.Stop()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		return nil, err
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gen.Namespace}}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	opts := gen.Options{Dir: filepath.Join(dir, "repo"), Services: cfg.Services, Tags: map[string]string{}}
	generated, err := gen.Generate(ctx, opts)
	if err != nil {
		return nil, err
	}
	repo, err := newBenchRepo(opts.Dir)
	if err != nil {
		return nil, err
	}
	if err := repo.commit("generated"); err != nil {
		return nil, err
	}
	secretFile := filepath.Join(dir, "webhook-secret")
	if err := os.WriteFile(secretFile, []byte(reactionSecret), 0o600); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	logFile, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	serveCtx, stop := context.WithCancel(ctx)
	cmd := exec.CommandContext(serveCtx, cfg.Digitops, "serve", "--repo", opts.Dir, "--config", "digitops-serve.yaml",
		"--kubeconfig", env.Kubeconfig, "--listen", addr, "--cache-dir", filepath.Join(dir, "cache"),
		"--interval", "1h", "--drift-interval", "1h", "--github-webhook-secret-file", secretFile)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Start(); err != nil {
		stop()
		return nil, err
	}
	defer func() {
		stop() // SIGINT: serve stops as on Ctrl-C
		_ = cmd.Wait()
	}()
	base := "http://" + addr
	cfg.Log.Info("waiting for the environment to be in sync", "services", cfg.Services)
	if err := pollUntil(ctx, 10*time.Minute, 200*time.Millisecond, func() bool { return envPhase(base, gen.DigitEnvironment) == "in-sync" }); err != nil {
		return nil, fmt.Errorf("the environment never got in sync (see %s): %w", logFile.Name(), err)
	}
	// Let the watches of the just-installed releases start.
	time.Sleep(5 * time.Second)
	out := &ReactionResults{Config: cfg}
	deployments := cs.AppsV1().Deployments(gen.Namespace)
	svcs := generated.Services
	for i := range cfg.Samples {
		// A different service each time: one field corrected again and
		// again would be (rightly) taken for a fight.
		name := svcs[(i*7+1)%len(svcs)].Name
		d, err := deployments.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		want := *d.Spec.Replicas
		edited := time.Now()
		if _, err := deployments.Patch(ctx, name, types.MergePatchType, []byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, want+4)), metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
			return nil, err
		}
		if err := pollUntil(ctx, time.Minute, 10*time.Millisecond, func() bool {
			d, err := deployments.Get(ctx, name, metav1.GetOptions{})
			return err == nil && *d.Spec.Replicas == want
		}); err != nil {
			return nil, fmt.Errorf("the hand edit of %s was not corrected: %w", name, err)
		}
		out.Drift = append(out.Drift, time.Since(edited))
		cfg.Log.Info("drift corrected", "deployment", name, "after", out.Drift[len(out.Drift)-1].Round(time.Millisecond))
		time.Sleep(time.Second)
	}
	for i := range cfg.Samples {
		name := svcs[(i*5+3)%len(svcs)].Name
		tag := fmt.Sprintf("v2.9.9-react%d", i)
		opts.Tags[name] = tag
		if _, err := gen.Generate(ctx, opts); err != nil {
			return nil, err
		}
		if err := repo.commit("bump " + name); err != nil {
			return nil, err
		}
		pushed := time.Now()
		if err := githubPush(ctx, base, opts.Dir); err != nil {
			return nil, err
		}
		if err := pollUntil(ctx, time.Minute, 10*time.Millisecond, func() bool {
			d, err := deployments.Get(ctx, name, metav1.GetOptions{})
			return err == nil && strings.HasSuffix(d.Spec.Template.Spec.Containers[0].Image, ":"+tag)
		}); err != nil {
			return nil, fmt.Errorf("the commit of %s's tag was not applied: %w", name, err)
		}
		out.Commit = append(out.Commit, time.Since(pushed))
		cfg.Log.Info("commit applied", "deployment", name, "after", out.Commit[len(out.Commit)-1].Round(time.Millisecond))
		time.Sleep(time.Second)
	}
	cp, err := newControlPlane(env.Config)
	if err != nil {
		return nil, err
	}
	out.IdleWindow = 10 * time.Second
	before, err := cp.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	time.Sleep(out.IdleWindow)
	after, err := cp.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	var idle Sample
	since(before, after, &idle)
	out.IdleRequests = idle.Total()
	out.Elapsed = time.Since(start)
	return out, nil
}

// Markdown renders the results as a section of docs/benchmarks.md.
func (r *ReactionResults) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "### Reaction of `digitops serve`, %d services (took %s)\n\n", r.Config.Services, r.Elapsed.Round(time.Second))
	b.WriteString("| Event | Until | Samples | Median | Max |\n|---|---|---|---|---|\n")
	row := func(event, until string, xs []time.Duration) {
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s |\n", event, until, len(xs), median(xs).Round(time.Millisecond), slices.Max(xs).Round(time.Millisecond))
	}
	row("hand edit of a Deployment (`replicas`, manager `kubectl-edit`)", "the Deployment is put back", r.Drift)
	row("commit changing one image tag, GitHub webhook", "the Deployment has the new image", r.Commit)
	fmt.Fprintf(&b, "\nIdle, the apiserver served %d requests in %s (every client, the control plane's own included).\n", r.IdleRequests, r.IdleWindow)
	return b.String()
}

func pollUntil(ctx context.Context, timeout, every time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

func envPhase(base, name string) string {
	resp, err := http.Get(base + "/api/v1/status")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var st struct {
		Environments []struct {
			Name  string `json:"name"`
			Phase string `json:"phase"`
		} `json:"environments"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return ""
	}
	for _, e := range st.Environments {
		if e.Name == name {
			return e.Phase
		}
	}
	return ""
}

func githubPush(ctx context.Context, base, repoURL string) error {
	body, _ := json.Marshal(map[string]any{
		"ref":        "refs/heads/master",
		"repository": map[string]any{"clone_url": repoURL, "default_branch": "master"},
	})
	mac := hmac.New(sha256.New, []byte(reactionSecret))
	mac.Write(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/hooks/github", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("webhook: %s %s", resp.Status, msg)
	}
	return nil
}

// benchRepo is the generated repository as a Git repository, with a
// configuration of its digit environment alone (serve syncs every
// environment of its configuration).
type benchRepo struct {
	dir  string
	repo *gogit.Repository
	when time.Time
}

func newBenchRepo(dir string) (*benchRepo, error) {
	r, err := gogit.PlainInit(dir, false)
	if err != nil {
		return nil, err
	}
	return &benchRepo{dir: dir, repo: r, when: time.Now()}, nil
}

func (b *benchRepo) commit(msg string) error {
	cfg, err := os.ReadFile(filepath.Join(b.dir, "digitops.yaml"))
	if err != nil {
		return err
	}
	digitOnly, _, _ := strings.Cut(string(cfg), "  - name: "+gen.HelmfileEnvironment+"\n")
	if err := os.WriteFile(filepath.Join(b.dir, "digitops-serve.yaml"), []byte(digitOnly), 0o644); err != nil {
		return err
	}
	wt, err := b.repo.Worktree()
	if err != nil {
		return err
	}
	if err := wt.AddWithOptions(&gogit.AddOptions{All: true}); err != nil {
		return err
	}
	b.when = b.when.Add(time.Second)
	sig := &object.Signature{Name: "bench", Email: "bench@example.org", When: b.when}
	_, err = wt.Commit(msg, &gogit.CommitOptions{Author: sig, Committer: sig})
	return err
}
