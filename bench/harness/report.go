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
	// Requests, Writes, Revisions and Templates are medians; Verbs and
	// DryRun are those of the median-wall sample.
	Requests, Writes, Revisions, Templates int
	Verbs, DryRun                          string
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
	var reqs, writes, revs, tmpls []int
	for _, s := range ss {
		st.MaxRSS = max(st.MaxRSS, s.MaxRSS)
		cpu, acpu, ecpu = append(cpu, s.CPU), append(acpu, s.APIServerCPU), append(ecpu, s.EtcdCPU)
		reqs, writes = append(reqs, s.Total()), append(writes, s.Writes())
		revs, tmpls = append(revs, s.Revisions), append(tmpls, s.Templates)
		if s.OK {
			st.OK++
		}
	}
	st.CPU, st.APIServerCPU, st.EtcdCPU = median(cpu), median(acpu), median(ecpu)
	st.Requests, st.Writes = median(reqs), median(writes)
	st.Revisions, st.Templates = median(revs), median(tmpls)
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
	fmt.Fprintf(&b, "| N | scenario | tool | runs | wall median [min–max] | peak RSS | tool CPU | apiserver CPU | etcd CPU | requests | writes | by verb (dry-run) | new Helm revisions | pod templates changed | ok | note |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
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
			fmt.Fprintf(&b, "| %d | %s | %s | %d | %s [%s–%s] | %s | %s | %s | %s | %d | %d | %s%s | %d | %d | %d/%d | %s |\n",
				r.Config.Services, sc, t, st.N, secs(st.Wall), secs(st.Min), secs(st.Max), mib(st.MaxRSS),
				secs(st.CPU), secs(st.APIServerCPU), secs(st.EtcdCPU), st.Requests, st.Writes, st.Verbs, dry,
				st.Revisions, st.Templates, st.OK, st.N, strings.ReplaceAll(st.Note, "|", "/"))
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
		for _, peer := range []string{ToolHelmfile, ToolDeployer, ToolFloor, ToolRenderFloor} {
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

// RenderFloorLimit is the cold-install target: digitops's median wall time
// at most this many times the render floor's.
const RenderFloorLimit = 1.5

// ColdTarget is digitops's cold install against the render floor: what
// digitops adds to the load, the render and the applies every tool that
// installs Helm releases must do.
type ColdTarget struct {
	// Digitops and RenderFloor are the two tools' cold stats.
	Digitops, RenderFloor Stat
	// Limit is the most Ratio may be (RenderFloorLimit).
	Limit float64
}

// Ratio is digitops's median wall time over the render floor's.
func (c ColdTarget) Ratio() float64 { return float64(c.Digitops.Wall) / float64(c.RenderFloor.Wall) }

// Judged says every run of both tools ended as the scenario wants: the wall
// time of a run that failed says nothing of the target.
func (c ColdTarget) Judged() bool {
	return c.Digitops.OK == c.Digitops.N && c.RenderFloor.OK == c.RenderFloor.N
}

// Met says the cold install was judged and is within Limit render floors.
func (c ColdTarget) Met() bool { return c.Judged() && c.Ratio() <= c.Limit }

// ColdVsRenderFloor returns digitops's cold install against the render
// floor; ok is false unless both ran cold.
func (r *Results) ColdVsRenderFloor() (ColdTarget, bool) {
	d, ok1 := r.Stat(ToolDigitops, ScenarioCold)
	f, ok2 := r.Stat(ToolRenderFloor, ScenarioCold)
	if !ok1 || !ok2 || f.Wall <= 0 {
		return ColdTarget{}, false
	}
	return ColdTarget{Digitops: d, RenderFloor: f, Limit: RenderFloorLimit}, true
}

// WriteColdTarget writes digitops's cold install against the render floor
// and its target.
func (r *Results) WriteColdTarget(w io.Writer) error {
	c, ok := r.ColdVsRenderFloor()
	if !ok {
		return nil
	}
	v := verdict(c.Met())
	if !c.Judged() {
		v = fmt.Sprintf("not judged (%d/%d digitops and %d/%d render floor runs ended as the scenario wants)",
			c.Digitops.OK, c.Digitops.N, c.RenderFloor.OK, c.RenderFloor.N)
	}
	_, err := fmt.Fprintf(w, "- N=%d cold install against the render floor: digitops %s ÷ render floor %s "+
		"(load, Helm SDK render of all %d releases on %d workers, the floor's applies) = %.2f, target ≤ %.2f: %s\n",
		r.Config.Services, secs(c.Digitops.Wall), secs(c.RenderFloor.Wall), r.Config.Services, r.RenderWorkers,
		c.Ratio(), c.Limit, v)
	return err
}

// EnvEditTargets are digitops's env-edit figures against their targets:
// new Helm revisions = the releases whose render changed (one), and wall
// time ≤ the no-op's + one render pass of the environment (medians).
type EnvEditTargets struct {
	// Edit and Noop are digitops's env and noop stats.
	Edit, Noop Stat
	// RenderPass is the median time of one render pass (Results.RenderPasses).
	RenderPass time.Duration
	// ParallelRenderPass is the median time of one render pass on Workers
	// goroutines (Results.ParallelRenderPasses), zero when none was timed.
	ParallelRenderPass time.Duration
	// Workers are the parallel pass's (Results.RenderWorkers).
	Workers int
	// WantRevisions is the number of releases whose render the edit changed.
	WantRevisions int
}

// RevisionsMet says the edit made no more revisions than renders changed.
func (e EnvEditTargets) RevisionsMet() bool { return e.Edit.Revisions == e.WantRevisions }

// Budget is the wall-time target: the no-op's plus one render pass.
func (e EnvEditTargets) Budget() time.Duration { return e.Noop.Wall + e.RenderPass }

// WallMet says the edit's wall time is within Budget.
func (e EnvEditTargets) WallMet() bool { return e.Edit.Wall <= e.Budget() }

// ParallelBudget is a second wall-time target, beside Budget: the no-op's
// plus one parallel render pass, since digitops renders on every core.
func (e EnvEditTargets) ParallelBudget() time.Duration { return e.Noop.Wall + e.ParallelRenderPass }

// ParallelWallMet says the edit's wall time is within ParallelBudget.
func (e EnvEditTargets) ParallelWallMet() bool { return e.Edit.Wall <= e.ParallelBudget() }

// EnvEdit returns digitops's env-edit figures; ok is false unless digitops
// ran the env and noop scenarios and a render pass was timed.
func (r *Results) EnvEdit() (EnvEditTargets, bool) {
	edit, ok1 := r.Stat(ToolDigitops, ScenarioEnvEdit)
	noop, ok2 := r.Stat(ToolDigitops, ScenarioNoop)
	if !ok1 || !ok2 || len(r.RenderPasses) == 0 {
		return EnvEditTargets{}, false
	}
	e := EnvEditTargets{Edit: edit, Noop: noop, RenderPass: median(r.RenderPasses), Workers: r.RenderWorkers, WantRevisions: 1}
	if len(r.ParallelRenderPasses) > 0 {
		e.ParallelRenderPass = median(r.ParallelRenderPasses)
	}
	return e, true
}

// WriteEnvEdit writes digitops's env-edit figures against their targets.
func (r *Results) WriteEnvEdit(w io.Writer) error {
	e, ok := r.EnvEdit()
	if !ok {
		return nil
	}
	_, err := fmt.Fprintf(w, "- N=%d env edit (one service's replicas in the environment file), digitops: "+
		"%d new Helm revisions, target %d (the releases whose render changed): %s; "+
		"%d pod templates changed; %d requests, %d writes; "+
		"wall %s, target ≤ no-op %s + one render pass %s (Helm SDK, client side, all %d releases, one after another) = %s: %s\n",
		r.Config.Services, e.Edit.Revisions, e.WantRevisions, verdict(e.RevisionsMet()),
		e.Edit.Templates, e.Edit.Requests, e.Edit.Writes,
		secs(e.Edit.Wall), secs(e.Noop.Wall), secs(e.RenderPass), r.Config.Services, secs(e.Budget()), verdict(e.WallMet()))
	if err != nil || e.ParallelRenderPass <= 0 {
		return err
	}
	_, err = fmt.Fprintf(w, "- N=%d env edit against the parallel render pass (a second budget; the one above stands), digitops: "+
		"wall %s, target ≤ no-op %s + one parallel render pass %s (Helm SDK, client side, all %d releases on %d workers) = %s: %s\n",
		r.Config.Services, secs(e.Edit.Wall), secs(e.Noop.Wall), secs(e.ParallelRenderPass), r.Config.Services, e.Workers,
		secs(e.ParallelBudget()), verdict(e.ParallelWallMet()))
	return err
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "missed"
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
