package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/digitops/digitops/daemon/shard"
	"github.com/digitops/digitops/internal/fsutil"
	"github.com/digitops/digitops/internal/testenv"
)

// ShardConfig says how to measure serve --shard.
type ShardConfig struct {
	// Environments and Releases size the estate: Environments native
	// environments of Releases releases each.
	Environments, Releases int
	// Replicas is the number of replicas of the sharded run (the other
	// run has one).
	Replicas int
	// Kills is how many times a replica is killed (SIGKILL) and started
	// again.
	Kills int
	// LeaseDuration is --shard-lease-duration.
	LeaseDuration time.Duration
	// Digitops is the binary.
	Digitops string
	// WorkDir holds the workspaces and logs.
	WorkDir string
	// Log receives progress.
	Log *slog.Logger
}

// ShardResults are the measured figures.
type ShardResults struct {
	Config ShardConfig
	// Cold are the cold syncs, with 1 and with Replicas replicas.
	Cold []ShardCold
	// Failover is, per kill, the time from SIGKILL to every environment
	// owned again; Handover, per restart, from the start of the killed
	// replica to the environments assigned to it owned by it.
	Failover, Handover []time.Duration
	Elapsed            time.Duration
}

// ShardCold is one cold sync of the estate.
type ShardCold struct {
	Replicas int
	// Wall is from the replicas' start to every environment in sync.
	Wall time.Duration
	// CPU is each replica's user+system time, by identity, read when it
	// exits.
	CPU map[string]time.Duration
}

// RunShard measures a cold sync of the estate with one replica and with
// cfg.Replicas, each on a fresh control plane, then, on the second,
// cfg.Kills failovers and hand-overs.
func RunShard(ctx context.Context, cfg ShardConfig) (*ShardResults, error) {
	start := time.Now()
	out := &ShardResults{Config: cfg}
	for _, n := range []int{1, cfg.Replicas} {
		cold, err := runShardEstate(ctx, cfg, n, out)
		if err != nil {
			return nil, err
		}
		out.Cold = append(out.Cold, cold)
	}
	out.Elapsed = time.Since(start)
	return out, nil
}

// shardProc is one `digitops serve --shard` process.
type shardProc struct {
	id, url string
	cmd     *exec.Cmd
	done    chan struct{}
}

func runShardEstate(ctx context.Context, cfg ShardConfig, replicas int, out *ShardResults) (ShardCold, error) {
	dir := filepath.Join(cfg.WorkDir, fmt.Sprintf("shard-%dx%d-r%d", cfg.Environments, cfg.Releases, replicas))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ShardCold{}, err
	}
	env, err := testenv.Start(ctx, testenv.Options{Dir: filepath.Join(dir, "controlplane")})
	if err != nil {
		return ShardCold{}, err
	}
	defer env.Stop()
	repoDir := filepath.Join(dir, "repo")
	if err := writeShardRepo(repoDir, cfg.Environments, cfg.Releases); err != nil {
		return ShardCold{}, err
	}
	repo, err := newBenchRepo(repoDir)
	if err != nil {
		return ShardCold{}, err
	}
	if err := repo.commit("estate"); err != nil {
		return ShardCold{}, err
	}
	startProc := func(id string) (*shardProc, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addr := ln.Addr().String()
		ln.Close()
		logFile, err := os.OpenFile(filepath.Join(dir, id+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(cfg.Digitops, "serve", "--repo", repoDir, "--config", "digitops-serve.yaml",
			"--kubeconfig", env.Kubeconfig, "--listen", addr, "--cache-dir", filepath.Join(dir, "cache-"+id),
			"--interval", "1h", "--drift-interval", "1h", "--shard", "--identity", id, "--advertise-url", "http://"+addr,
			"--leader-election-namespace", "default", "--shard-lease-duration", cfg.LeaseDuration.String())
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			logFile.Close()
			return nil, err
		}
		p := &shardProc{id: id, url: "http://" + addr, cmd: cmd, done: make(chan struct{})}
		go func() { _ = cmd.Wait(); logFile.Close(); close(p.done) }()
		return p, nil
	}
	procs := map[string]*shardProc{}
	stopAll := func() {
		for _, p := range procs {
			_ = p.cmd.Process.Signal(os.Interrupt)
			select {
			case <-p.done:
			case <-time.After(time.Minute):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
	}
	defer stopAll()
	var ids []string
	t0 := time.Now()
	for i := range replicas {
		id := fmt.Sprintf("replica-%d", i)
		p, err := startProc(id)
		if err != nil {
			return ShardCold{}, err
		}
		procs[id], ids = p, append(ids, id)
	}
	cfg.Log.Info("waiting for the estate to be in sync", "replicas", replicas, "environments", cfg.Environments, "releases", cfg.Releases)
	if err := pollUntil(ctx, 60*time.Minute, time.Second, func() bool { return shardInSync(procs[ids[0]].url) == cfg.Environments }); err != nil {
		return ShardCold{}, fmt.Errorf("the estate never got in sync with %d replica(s) (logs in %s): %w", replicas, dir, err)
	}
	cold := ShardCold{Replicas: replicas, Wall: time.Since(t0), CPU: map[string]time.Duration{}}
	for id, p := range procs {
		cold.CPU[id] = processCPU(p.cmd.Process.Pid)
	}
	cfg.Log.Info("in sync", "replicas", replicas, "after", cold.Wall.Round(time.Second), "cpu", fmt.Sprint(cold.CPU))
	if replicas > 1 {
		names := make([]string, cfg.Environments)
		for i := range names {
			names[i] = fmt.Sprintf("env-%03d", i)
		}
		for k := range cfg.Kills {
			victim := ids[k%len(ids)]
			_ = procs[victim].cmd.Process.Kill()
			<-procs[victim].done
			killed := time.Now()
			delete(procs, victim)
			if err := pollUntil(ctx, 5*cfg.LeaseDuration, 100*time.Millisecond, func() bool { return ownedSum(procs) == cfg.Environments }); err != nil {
				return ShardCold{}, fmt.Errorf("the environments of %s were not taken over: %w", victim, err)
			}
			out.Failover = append(out.Failover, time.Since(killed))
			cfg.Log.Info("failover", "killed", victim, "after", out.Failover[len(out.Failover)-1].Round(time.Millisecond))
			mine := 0
			for _, owner := range shard.Assign(names, ids) {
				if owner == victim {
					mine++
				}
			}
			restarted := time.Now()
			p, err := startProc(victim)
			if err != nil {
				return ShardCold{}, err
			}
			procs[victim] = p
			if err := pollUntil(ctx, 5*cfg.LeaseDuration, 100*time.Millisecond, func() bool {
				return ownedOf(p.url) == mine && ownedSum(procs) == cfg.Environments
			}); err != nil {
				return ShardCold{}, fmt.Errorf("%s did not get its %d environments back: %w", victim, mine, err)
			}
			out.Handover = append(out.Handover, time.Since(restarted))
			cfg.Log.Info("hand-over on a join", "replica", victim, "environments", mine, "after", out.Handover[len(out.Handover)-1].Round(time.Millisecond))
		}
	}
	stopAll()
	procs = map[string]*shardProc{}
	return cold, nil
}

// processCPU is a process's user+system time so far, from /proc (0 when
// it cannot be read).
func processCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command (in parentheses, which may hold
	// spaces): utime and stime are the 12th and 13th of them, in clock
	// ticks (USER_HZ, 100 on Linux).
	_, rest, ok := strings.Cut(string(data), ") ")
	if !ok {
		return 0
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	var utime, stime int64
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// writeShardRepo writes the estate: one chart (a ConfigMap and a
// Deployment), and envs environments of releases releases each, in their
// own namespaces, without readiness waits (no controllers here).
func writeShardRepo(dir string, envs, releases int) error {
	files := map[string]string{
		"charts/svc/Chart.yaml": "apiVersion: v2\nname: svc\nversion: 0.1.0\n",
		"charts/svc/templates/all.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}
data:
  message: {{ .Values.message | quote }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: 1
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec:
      containers:
        - name: app
          image: "egovio/{{ .Release.Name }}:v1"
          envFrom: [{configMapRef: {name: {{ .Release.Name }}}}]
`,
	}
	var b strings.Builder
	b.WriteString("environments:\n")
	for e := range envs {
		fmt.Fprintf(&b, "  - name: env-%03d\n    layout: native\n    sync: {wait: false, concurrency: 4}\n    releases:\n", e)
		for r := range releases {
			fmt.Fprintf(&b, "      - {name: svc-%02d, namespace: estate-%03d, chart: charts/svc, values: [{message: m%d}]}\n", r, e, r)
		}
	}
	files["digitops.yaml"] = b.String()
	return fsutil.WriteFiles(dir, files)
}

// shardInSync counts the environments a replica reports in sync (its own
// and, through their owners, the others').
func shardInSync(url string) int {
	var st struct {
		Environments []struct {
			Phase string `json:"phase"`
		} `json:"environments"`
	}
	if getJSON(url+"/api/v1/status", &st) != nil {
		return 0
	}
	n := 0
	for _, e := range st.Environments {
		if e.Phase == "in-sync" {
			n++
		}
	}
	return n
}

// ownedOf is a replica's digitops_shard_owned_environments (-1 when it
// cannot be read).
func ownedOf(url string) int {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var body strings.Builder
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		body.Write(buf[:n])
		if err != nil {
			break
		}
	}
	for _, line := range strings.Split(body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "digitops_shard_owned_environments "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err == nil {
				return int(f)
			}
		}
	}
	return -1
}

func ownedSum(procs map[string]*shardProc) int {
	sum := 0
	for _, p := range procs {
		n := ownedOf(p.url)
		if n < 0 {
			return -1
		}
		sum += n
	}
	return sum
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// Markdown renders the results as a section of docs/benchmarks.md.
func (r *ShardResults) Markdown() string {
	var b strings.Builder
	c := r.Config
	fmt.Fprintf(&b, "### `serve --shard`: %d environments × %d releases (took %s)\n\n", c.Environments, c.Releases, r.Elapsed.Round(time.Second))
	b.WriteString("Cold sync (every release installed), each on a fresh control plane on the same machine:\n\n")
	b.WriteString("| Replicas | Wall time to all in sync | CPU per replica until then (user+system) |\n|---|---|---|\n")
	for _, cold := range r.Cold {
		var ids []string
		for id := range cold.CPU {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		var cpu []string
		for _, id := range ids {
			cpu = append(cpu, fmt.Sprintf("%s %s", id, cold.CPU[id].Round(100*time.Millisecond)))
		}
		fmt.Fprintf(&b, "| %d | %s | %s |\n", cold.Replicas, cold.Wall.Round(100*time.Millisecond), strings.Join(cpu, ", "))
	}
	fmt.Fprintf(&b, "\nThe replicas share the machine's cores with the control plane, so the wall-time gain of more replicas is bounded here; on separate nodes each replica renders and installs its share only (its CPU above).\n\n")
	if len(r.Failover) > 0 {
		fmt.Fprintf(&b, "With %d replicas and `--shard-lease-duration %s`, %d times: SIGKILL of one replica until every environment is owned again (failover), and its restart until the environments assigned to it are its again (hand-over on a join):\n\n", c.Replicas, c.LeaseDuration, len(r.Failover))
		b.WriteString("| Event | Median | Max |\n|---|---|---|\n")
		fmt.Fprintf(&b, "| failover (SIGKILL) | %s | %s |\n", median(r.Failover).Round(10*time.Millisecond), slices.Max(r.Failover).Round(10*time.Millisecond))
		fmt.Fprintf(&b, "| hand-over on a join (process start included) | %s | %s |\n", median(r.Handover).Round(10*time.Millisecond), slices.Max(r.Handover).Round(10*time.Millisecond))
	}
	return b.String()
}
