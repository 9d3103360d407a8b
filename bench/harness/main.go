package harness

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/digitops/digitops/internal/testenv"
)

// Peer versions bench/peers.sh builds.
const (
	HelmVersion     = "v3.22.0"
	HelmfileVersion = "v1.8.0"
)

// Report markers: bench replaces what lies between them.
const (
	beginMarker = "<!-- bench:begin -->"
	endMarker   = "<!-- bench:end -->"
	// The reaction measurements have their own, so that either runs alone.
	reactionBegin = "<!-- reaction:begin -->"
	reactionEnd   = "<!-- reaction:end -->"
	shardBegin    = "<!-- shard:begin -->"
	shardEnd      = "<!-- shard:end -->"
)

// Main is the bench command.
type Main struct {
	// Services is the environment size of the main configuration.
	Services int
	// Runs is the number of fresh clusters per tool (main configuration).
	Runs int
	// Big is the size of the large configuration (cold once, no-op
	// Runs times); 0 skips it.
	Big int
	// BigTools are the tools of the large configuration.
	BigTools string
	// Tools are the tools of the main configuration; empty means all.
	Tools string
	// Scenarios are the scenarios of the main configuration; empty means
	// all (cold always runs, measured only when named).
	Scenarios string
	// BigScenarios are the scenarios of the large configuration.
	BigScenarios string
	// SlowTools run SlowRuns times instead of Runs in the main
	// configuration (the deployer's way spawns two processes per service).
	SlowTools string
	// SlowRuns is the number of runs of SlowTools.
	SlowRuns int
	// Out is the Markdown file to write the results into.
	Out string
	// WorkDir keeps workspaces and logs; empty means a temporary dir.
	WorkDir string
	// Bins are the programs.
	Bins Binaries
	// Log receives progress.
	Log *slog.Logger
	// Hold keeps the large configuration's control plane up after its
	// last run until interrupted (see Config.Hold).
	Hold bool
	// Reaction is the size of the environment whose reaction times under
	// digitops serve are measured (RunReaction); 0 skips it.
	Reaction int
	// ReactionSamples is the number of events of each kind.
	ReactionSamples int
	// Shard is the number of environments of the serve --shard
	// measurement (RunShard); 0 skips it. ShardReleases, ShardReplicas,
	// ShardKills and ShardLease are its other knobs.
	Shard, ShardReleases, ShardReplicas, ShardKills int
	ShardLease                                      time.Duration
}

// DefaultPeersDir is where bench/peers.sh puts helm and helmfile.
func DefaultPeersDir() string {
	root := os.Getenv("DIGITOPS_TESTENV_DIR")
	if root == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache")
		}
		root = filepath.Join(cache, "digitops", "testenv")
	}
	return filepath.Join(root, "peers")
}

// DefaultBinaries finds the programs where the Makefile and bench/peers.sh
// put them; self runs this program's child commands.
func DefaultBinaries(repoRoot string, self []string) Binaries {
	peers := DefaultPeersDir()
	b := Binaries{
		Digitops: filepath.Join(repoRoot, "bin", "digitops"),
		Helm:     filepath.Join(peers, "helm-"+HelmVersion, "helm"),
		Helmfile: filepath.Join(peers, "helmfile-"+HelmfileVersion, "helmfile"),
		Self:     self,
	}
	if dir, err := testenv.BinDir(false); err == nil {
		b.Kubectl = filepath.Join(dir, "kubectl")
	}
	return b
}

// ParseFlags reads the command line.
func (m *Main) ParseFlags(fs *flag.FlagSet, args []string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	m.Bins = DefaultBinaries(".", []string{self})
	fs.IntVar(&m.Services, "services", 40, "services in the main configuration; 0 skips it")
	fs.IntVar(&m.Runs, "runs", 3, "fresh clusters per tool (and no-op repeats at -big)")
	fs.IntVar(&m.Big, "big", 500, "services in the large configuration (cold once, then no-op -runs times); 0 skips it")
	fs.StringVar(&m.BigTools, "big-tools", strings.Join([]string{ToolDigitops, ToolFloor, ToolRenderFloor}, ","), "tools of the large configuration")
	fs.StringVar(&m.Tools, "tools", "", "tools of the main configuration (comma-separated; empty: all that are built)")
	fs.StringVar(&m.Scenarios, "scenarios", "", "scenarios of the main configuration (comma-separated among "+strings.Join(AllScenarios, ",")+"; empty: all; cold always runs, measured only when named)")
	fs.StringVar(&m.BigScenarios, "big-scenarios", strings.Join([]string{ScenarioCold, ScenarioNoop, ScenarioEnvEdit}, ","), "scenarios of the large configuration (no-op repeated -runs times)")
	fs.StringVar(&m.SlowTools, "slow-tools", "", "tools of the main configuration that run -slow-runs times only")
	fs.IntVar(&m.SlowRuns, "slow-runs", 1, "runs of the -slow-tools")
	fs.StringVar(&m.Out, "out", "", "Markdown file to write the results into (between its bench markers); empty: stdout")
	fs.BoolVar(&m.Hold, "hold", false, "after the large configuration (or the main one when -big 0), keep its last control plane up and log how to run the tool against it, until interrupted")
	fs.IntVar(&m.Reaction, "reaction", 0, "services of the environment whose reaction times under digitops serve are measured (drift, commit); 0 skips it")
	fs.IntVar(&m.ReactionSamples, "reaction-samples", 10, "events of each kind in the reaction measurement")
	fs.IntVar(&m.Shard, "shard", 0, "environments of the serve --shard measurement (cold with 1 and N replicas, failovers, hand-overs); 0 skips it")
	fs.IntVar(&m.ShardReleases, "shard-releases", 40, "releases per environment in the serve --shard measurement")
	fs.IntVar(&m.ShardReplicas, "shard-replicas", 3, "replicas of the sharded run")
	fs.IntVar(&m.ShardKills, "shard-kills", 5, "replicas killed (SIGKILL) and started again in the sharded run")
	fs.DurationVar(&m.ShardLease, "shard-lease", 30*time.Second, "--shard-lease-duration of the sharded run")
	fs.StringVar(&m.WorkDir, "workdir", "", "keep workspaces and logs here (default: a temporary dir, removed)")
	fs.StringVar(&m.Bins.Digitops, "digitops", m.Bins.Digitops, "digitops binary")
	fs.StringVar(&m.Bins.Helm, "helm", m.Bins.Helm, "helm v3 binary")
	fs.StringVar(&m.Bins.Helmfile, "helmfile", m.Bins.Helmfile, "helmfile binary")
	fs.StringVar(&m.Bins.Kubectl, "kubectl", m.Bins.Kubectl, "kubectl binary")
	return fs.Parse(args)
}

// Run runs the configurations and writes the report.
func (m *Main) Run(ctx context.Context) error {
	if m.Log == nil {
		m.Log = slog.New(slog.DiscardHandler)
	}
	for _, p := range []*string{&m.Bins.Digitops, &m.Bins.Helm, &m.Bins.Helmfile, &m.Bins.Kubectl} {
		if *p != "" {
			if abs, err := filepath.Abs(*p); err == nil {
				*p = abs
			}
		}
	}
	start := time.Now()
	loadBefore := loadAvg()
	var all []*Results
	for _, sc := range append(split(m.Scenarios), split(m.BigScenarios)...) {
		if !contains(AllScenarios, sc) {
			return fmt.Errorf("unable to run scenario %q: not one of %s", sc, strings.Join(AllScenarios, ", "))
		}
	}
	main := Config{Services: m.Services, Runs: m.Runs, Scenarios: split(m.Scenarios), Tools: split(m.Tools), Bins: m.Bins, WorkDir: m.WorkDir, Log: m.Log, Hold: m.Hold && m.Big == 0}
	slow := split(m.SlowTools)
	if len(slow) > 0 {
		if len(main.Tools) == 0 {
			main.Tools = []string{ToolDigitops, ToolHelmfile, ToolDeployer, ToolFloor, ToolRenderFloor}
		}
		main.Tools = slices.DeleteFunc(main.Tools, func(t string) bool { return slices.Contains(slow, t) })
	}
	if m.Services > 0 {
		r, err := Run(ctx, main)
		if err != nil {
			return err
		}
		if len(slow) > 0 {
			sc := main
			sc.Tools, sc.Runs = slow, m.SlowRuns
			rs, err := Run(ctx, sc)
			if err != nil {
				return err
			}
			r.merge(rs)
		}
		all = append(all, r)
	}
	if m.Big > 0 {
		big := Config{Services: m.Big, Runs: 1, Repeat: m.Runs, Scenarios: split(m.BigScenarios),
			Tools: split(m.BigTools), Bins: m.Bins, WorkDir: m.WorkDir, Log: m.Log, Hold: m.Hold}
		r, err := Run(ctx, big)
		if err != nil {
			return err
		}
		all = append(all, r)
	}
	if len(all) > 0 {
		var buf bytes.Buffer
		writeReport(ctx, &buf, m, all, start, loadBefore)
		if err := m.write(beginMarker, endMarker, buf.String()); err != nil {
			return err
		}
	}
	if m.Reaction > 0 {
		err := m.section(ctx, start, "digitops-reaction-", reactionBegin, reactionEnd, func(workDir string) (string, error) {
			rr, err := RunReaction(ctx, ReactionConfig{Services: m.Reaction, Samples: m.ReactionSamples, Digitops: m.Bins.Digitops, WorkDir: workDir, Log: m.Log})
			if err != nil {
				return "", err
			}
			return rr.Markdown(), nil
		})
		if err != nil {
			return err
		}
	}
	if m.Shard > 0 {
		err := m.section(ctx, start, "digitops-shard-", shardBegin, shardEnd, func(workDir string) (string, error) {
			sr, err := RunShard(ctx, ShardConfig{Environments: m.Shard, Releases: m.ShardReleases, Replicas: m.ShardReplicas, Kills: m.ShardKills,
				LeaseDuration: m.ShardLease, Digitops: m.Bins.Digitops, WorkDir: workDir, Log: m.Log})
			if err != nil {
				return "", err
			}
			return sr.Markdown(), nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// section runs one measurement of its own (in WorkDir, else a temporary
// directory prefix… removed after) and writes its Markdown, after a line
// saying when, where and which digitops, between the markers.
func (m *Main) section(ctx context.Context, start time.Time, prefix, begin, end string, measure func(workDir string) (string, error)) error {
	workDir := m.WorkDir
	if workDir == "" {
		d, err := os.MkdirTemp("", prefix)
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		workDir = d
	}
	md, err := measure(workDir)
	if err != nil {
		return err
	}
	text := fmt.Sprintf("Measured %s. Machine: %s, %d CPUs. digitops %s.\n\n", start.UTC().Format("2006-01-02 15:04 MST"), cpuModel(), runtime.NumCPU(),
		strings.TrimPrefix(version(ctx, m.Bins.Digitops, "version"), "digitops ")) + md
	return m.write(begin, end, text)
}

// write puts text between the markers of m.Out, or prints it.
func (m *Main) write(begin, end, text string) error {
	if m.Out == "" {
		_, err := os.Stdout.WriteString(text)
		return err
	}
	return spliceInto(m.Out, begin, end, text)
}

func writeReport(ctx context.Context, buf *bytes.Buffer, m *Main, all []*Results, start time.Time, loadBefore string) {
	fmt.Fprintf(buf, "Measured %s, in %s. Load average before: %s; after: %s.\n\n",
		start.UTC().Format("2006-01-02 15:04 MST"), time.Since(start).Round(time.Second), loadBefore, loadAvg())
	fmt.Fprintf(buf, "Machine: %s, %d CPUs, %s, %s/%s.\n\n", cpuModel(), runtime.NumCPU(), memTotal(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(buf, "Versions: digitops %s; helm %s; helmfile %s; kube-apiserver and kubectl %s, etcd %s; %s.\n\n",
		strings.TrimPrefix(version(ctx, m.Bins.Digitops, "version"), "digitops "), HelmVersion, HelmfileVersion, testenv.KubernetesVersion, testenv.EtcdVersion, runtime.Version())
	for _, r := range all {
		fmt.Fprintf(buf, "### %d services (took %s; runs per tool in the table)\n\n", r.Config.Services, r.Elapsed.Round(time.Second))
		_ = r.WriteTable(buf)
		buf.WriteString("\n")
		_ = r.WriteRatios(buf)
		_ = r.WriteColdTarget(buf)
		_ = r.WriteEnvEdit(buf)
		buf.WriteString("\n")
	}
}

// spliceInto replaces the text between the markers of path, or writes the
// whole file when it has none.
func spliceInto(path, beginMarker, endMarker, text string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	if i < 0 || j < i {
		// No section yet: append one.
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		return os.WriteFile(path, []byte(s+beginMarker+"\n"+text+endMarker+"\n"), 0o644)
	}
	return os.WriteFile(path, []byte(s[:i+len(beginMarker)]+"\n"+text+s[j:]), 0o644)
}

func split(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		var kb int64
		if _, err := fmt.Sscanf(l, "MemTotal: %d kB", &kb); err == nil {
			return fmt.Sprintf("%.0f GiB RAM", float64(kb)/(1<<20))
		}
	}
	return "unknown RAM"
}

func version(ctx context.Context, bin string, args ...string) string {
	out, err := exec.CommandContext(ctx, bin, args...).Output()
	if err != nil {
		return "unknown"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.Join(strings.Fields(first), " ")
}
