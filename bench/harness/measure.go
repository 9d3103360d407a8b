package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Sample is one measured run of one tool in one scenario.
type Sample struct {
	// Wall is the tool's wall-clock time.
	Wall time.Duration
	// MaxRSS is the peak resident set of the largest process of the tool's
	// process tree, in bytes.
	MaxRSS int64
	// CPU is the user+system time of the tool's process tree.
	CPU time.Duration
	// APIServerCPU and EtcdCPU are the CPU time the control plane spent
	// meanwhile (zero when the processes were not found).
	APIServerCPU, EtcdCPU time.Duration
	// Requests are the API requests by verb; dry-run requests are in DryRun.
	Requests, DryRun map[string]int
	// Revisions is the number of new Helm revisions: how far the highest
	// revision of each release's Helm release Secrets (owner=helm) moved.
	Revisions int
	// Templates is the number of Deployments whose pod template changed
	// (each rolls its pods in a real cluster).
	Templates int
	// OK says the tool exited 0 and the cluster was as the scenario wants.
	OK bool
	// Note says what went wrong, or what the check found.
	Note string
}

// Writes is the number of write requests that were not dry-run.
func (s Sample) Writes() int {
	n := 0
	for v, c := range s.Requests {
		if writeVerb(v) {
			n += c
		}
	}
	return n
}

// Total is the number of requests, dry-run included.
func (s Sample) Total() int {
	n := 0
	for _, c := range s.Requests {
		n += c
	}
	for _, c := range s.DryRun {
		n += c
	}
	return n
}

func writeVerb(v string) bool {
	switch v {
	case "POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION", "CREATE", "UPDATE":
		return true
	}
	return false
}

// procUsage is what wait4 says of a finished child.
type procUsage struct {
	Wall   time.Duration `json:"wall"`
	MaxRSS int64         `json:"maxRSS"`
	CPU    time.Duration `json:"cpu"`
}

// runMeasured runs cmd to completion under the rusage launcher, and returns
// the usage it reports. The command's output goes to logPath.
//
// Why a launcher: a process started from a big one inherits the big one's
// peak RSS (Linux records the old address space's high-water mark at
// exec, and Go's os/exec shares its address space until then), so wait4
// here would report at least the harness's own size. The small launcher
// (bench/cmd/rusage) starts the tool afresh and reports wait4's rusage.
func runMeasured(ctx context.Context, launcher string, cmd *exec.Cmd, logPath string) (procUsage, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return procUsage{}, err
	}
	defer log.Close()
	usagePath := logPath + ".usage.json"
	run := exec.CommandContext(ctx, launcher, append([]string{usagePath, cmd.Path}, cmd.Args[1:]...)...)
	run.Env = cmd.Env
	run.Stdout, run.Stderr = log, log
	run.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	run.Cancel = func() error { return syscall.Kill(-run.Process.Pid, syscall.SIGKILL) }
	start := time.Now()
	err = run.Run()
	u := procUsage{Wall: time.Since(start)}
	if b, rerr := os.ReadFile(usagePath); rerr == nil {
		_ = json.Unmarshal(b, &u)
	}
	if err != nil {
		return u, fmt.Errorf("unable to run %s (log %s): %w: %s", filepath.Base(cmd.Path), logPath, err, tail(logPath, 800))
	}
	return u, ctx.Err()
}

// buildLauncher builds bench/cmd/rusage into dir.
func buildLauncher(ctx context.Context, dir string) (string, error) {
	out := filepath.Join(dir, "rusage")
	build := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/digitops/digitops/bench/cmd/rusage")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("unable to build the rusage launcher: %w: %s", err, b)
	}
	return out, nil
}

// tail returns the last n bytes of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// controlPlane reads the API server's request counters and the CPU time of
// its processes.
type controlPlane struct {
	cs             kubernetes.Interface
	apiserver, etc int // pids; 0 when not found
}

func newControlPlane(cfg *rest.Config) (*controlPlane, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	cp := &controlPlane{cs: cs}
	cp.apiserver, cp.etc = findControlPlane(cfg.Host)
	return cp, nil
}

// snapshot is the state of the counters at one moment.
type snapshot struct {
	requests  map[reqKey]float64
	apiserver time.Duration
	etcd      time.Duration
}

type reqKey struct {
	verb   string
	dryRun bool
}

func (c *controlPlane) snapshot(ctx context.Context) (snapshot, error) {
	s := snapshot{apiserver: procCPU(c.apiserver), etcd: procCPU(c.etc)}
	raw, err := c.cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return s, fmt.Errorf("unable to read the API server's metrics: %w", err)
	}
	s.requests, err = parseRequests(raw)
	return s, err
}

// parseRequests sums apiserver_request_total by verb and dry-run, leaving
// out leases (the API server renews its own identity lease on its own).
func parseRequests(raw []byte) (map[reqKey]float64, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("unable to parse the API server's metrics: %w", err)
	}
	out := map[reqKey]float64{}
	fam, ok := fams["apiserver_request_total"]
	if !ok {
		return out, nil
	}
	for _, m := range fam.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["resource"] == "leases" {
			continue
		}
		k := reqKey{verb: labels["verb"], dryRun: labels["dry_run"] != ""}
		out[k] += m.GetCounter().GetValue()
	}
	return out, nil
}

// since fills the control-plane fields of a sample from two snapshots; the
// harness's own scrape that took before is not counted.
func since(before, after snapshot, s *Sample) {
	s.APIServerCPU = after.apiserver - before.apiserver
	s.EtcdCPU = after.etcd - before.etcd
	s.Requests, s.DryRun = map[string]int{}, map[string]int{}
	for k, v := range after.requests {
		d := int(v - before.requests[k])
		if !k.dryRun && k.verb == "GET" {
			d-- // the /metrics scrape of before
		}
		if d <= 0 {
			continue
		}
		if k.dryRun {
			s.DryRun[k.verb] += d
		} else {
			s.Requests[k.verb] += d
		}
	}
}

// findControlPlane finds the kube-apiserver serving host and the etcd it
// uses, by their command lines (other control planes may run beside it).
func findControlPlane(host string) (apiserver, etcd int) {
	u, err := url.Parse(host)
	if err != nil {
		return 0, 0
	}
	port := u.Port()
	entries, _ := os.ReadDir("/proc")
	cmdlines := map[int][]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		cmdlines[pid] = strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	}
	var etcdURL string
	for pid, args := range cmdlines {
		if filepath.Base(args[0]) != "kube-apiserver" {
			continue
		}
		if v, ok := flagValue(args, "secure-port"); ok && v == port {
			apiserver = pid
			etcdURL, _ = flagValue(args, "etcd-servers")
		}
	}
	if etcdURL == "" {
		return apiserver, 0
	}
	for pid, args := range cmdlines {
		if filepath.Base(args[0]) != "etcd" {
			continue
		}
		if v, ok := flagValue(args, "listen-client-urls"); ok && strings.Contains(v, etcdURL) {
			etcd = pid
		}
	}
	return apiserver, etcd
}

// flagValue finds --name=value or --name value in args.
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		a = strings.TrimLeft(a, "-")
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
		if a == name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// procCPU is the user+system time of a process (clock ticks of 10 ms).
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields after it are plain.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// verbs lists a request map as "GET 3, PATCH 2" in a stable order.
func verbs(m map[string]int) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
