package harness

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// Stat summarises the samples of one tool in one scenario.
type Stat struct {
	// N is the number of samples.
	N int
	// Wall is the median wall time, Min and Max its range.
	Wall, Min, Max time.Duration
	// MaxRSS is the largest peak RSS of any sample, in bytes.
	MaxRSS int64
	// CPU, APIServerCPU and EtcdCPU are medians.
	CPU, APIServerCPU, EtcdCPU time.Duration
	// Requests and Writes are medians; Verbs and DryRun are those of the
	// median-wall sample.
	Requests, Writes int
	Verbs, DryRun    string
	// OK is the number of samples that ended as the scenario wants.
	OK int
	// Note is the note of the median-wall sample.
	Note string
}

// merge adds the tools and samples of o, a run of other tools on the same
// number of services.
func (r *Results) merge(o *Results) {
	r.Tools = append(r.Tools, o.Tools...)
	for t, why := range o.Skipped {
		r.Skipped[t] = why
	}
	for t, m := range o.Samples {
		r.Samples[t] = m
	}
	r.Elapsed += o.Elapsed
	r.Config.Runs = max(r.Config.Runs, o.Config.Runs)
}

// Stat summarises the samples of tool in scenario sc; ok is false when
// there are none.
func (r *Results) Stat(tool, sc string) (Stat, bool) {
	ss := r.Samples[tool][sc]
	if len(ss) == 0 {
		return Stat{}, false
	}
	sorted := slices.Clone(ss)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Wall < sorted[j].Wall })
	mid := sorted[len(sorted)/2]
	st := Stat{N: len(ss), Wall: mid.Wall, Min: sorted[0].Wall, Max: sorted[len(sorted)-1].Wall,
		Verbs: verbs(mid.Requests), DryRun: verbs(mid.DryRun), Note: mid.Note}
	var cpu, acpu, ecpu []time.Duration
	var reqs, writes []int
	for _, s := range ss {
		st.MaxRSS = max(st.MaxRSS, s.MaxRSS)
		cpu, acpu, ecpu = append(cpu, s.CPU), append(acpu, s.APIServerCPU), append(ecpu, s.EtcdCPU)
		reqs, writes = append(reqs, s.Total()), append(writes, s.Writes())
		if s.OK {
			st.OK++
		}
	}
	st.CPU, st.APIServerCPU, st.EtcdCPU = median(cpu), median(acpu), median(ecpu)
	st.Requests, st.Writes = median(reqs), median(writes)
	return st, true
}

func median[T int | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// Ratio is a's median wall time over b's in scenario sc, or 0 when either
// is missing.
func (r *Results) Ratio(a, b, sc string) float64 {
	x, ok1 := r.Stat(a, sc)
	y, ok2 := r.Stat(b, sc)
	if !ok1 || !ok2 || y.Wall == 0 {
		return 0
	}
	return float64(x.Wall) / float64(y.Wall)
}

// WriteTable writes the results as a Markdown table.
func (r *Results) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "| N | scenario | tool | runs | wall median [min–max] | peak RSS | tool CPU | apiserver CPU | etcd CPU | requests | writes | by verb (dry-run) | ok | note |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, sc := range AllScenarios {
		for _, t := range r.Tools {
			st, ok := r.Stat(t, sc)
			if !ok {
				continue
			}
			dry := ""
			if st.DryRun != "0" {
				dry = " (dry-run: " + st.DryRun + ")"
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %d | %s [%s–%s] | %s | %s | %s | %s | %d | %d | %s%s | %d/%d | %s |\n",
				r.Config.Services, sc, t, st.N, secs(st.Wall), secs(st.Min), secs(st.Max), mib(st.MaxRSS),
				secs(st.CPU), secs(st.APIServerCPU), secs(st.EtcdCPU), st.Requests, st.Writes, st.Verbs, dry,
				st.OK, st.N, strings.ReplaceAll(st.Note, "|", "/"))
		}
	}
	for _, t := range sortedKeys(r.Skipped) {
		fmt.Fprintf(&b, "\n%s: not run: %s\n", t, r.Skipped[t])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteRatios writes digitops's ratios to the peers, scenario by scenario.
func (r *Results) WriteRatios(w io.Writer) error {
	var b strings.Builder
	for _, sc := range AllScenarios {
		var parts []string
		for _, peer := range []string{ToolHelmfile, ToolDeployer, ToolFloor} {
			if x := r.Ratio(ToolDigitops, peer, sc); x > 0 {
				parts = append(parts, fmt.Sprintf("digitops ÷ %s = %.2f", peer, x))
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(&b, "- N=%d %s: %s\n", r.Config.Services, sc, strings.Join(parts, ", "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
