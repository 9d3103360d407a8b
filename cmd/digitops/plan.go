package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/rollout"
	"github.com/digitops/digitops/source/chartrepo"
	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/loader"
)

// planFlags are the flags plan and apply share.
type planFlags struct {
	forcePrune bool
	releases   []string
	selectors  []string
	// includeNeeds adds what the selected releases need, transitively.
	includeNeeds bool
	offline      bool
	diff         bool
	// renderTwice renders changed releases twice to name nondeterministic
	// fields in the plan; apply leaves that to the Applier, for free.
	renderTwice bool
	// kubeVersion is the Kubernetes version an offline plan renders for.
	kubeVersion string
	// policy is the operator's policy file (--policy).
	policy string
}

func (f *planFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&f.forcePrune, "force-prune", false, "allow pruning more than the environment's maxPrunePercent")
	fl.StringSliceVar(&f.releases, "release", nil, "only this release (repeatable)")
	fl.StringSliceVarP(&f.selectors, "selector", "l", nil, "only releases whose labels match key=value[,key!=value] (name and namespace are implicit labels; repeat for OR)")
	fl.BoolVar(&f.includeNeeds, "include-needs", false, "with --release or --selector: also the releases those need, transitively (as helmfile's --include-needs)")
	fl.StringVar(&f.policy, "policy", "", policyFlagUsage)
	fl.BoolVar(&f.diff, "diff", true, "render changed releases and show what changes in their objects")
}

type planOptions struct {
	planFlags
	detailedExitCode bool
}

func newPlanCommand(g *globalOptions, s streams) *cobra.Command {
	o := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would change, without changing anything",
		Long: `plan loads the environment from Git, reads the Helm releases of its cluster and
prints, for every release that would change, why and a diff of its rendered
objects (Secret data and secret values masked). Nothing is written.

With --offline no cluster is read at all: every release shows as an install and
its diff is the full render, which checks that every chart renders. Nor is any
chart repository: a remote chart comes from the chart cache that an earlier
online plan filled, or the plan fails naming it.`,
		Example: `  # What would change in the dev environment of the current repository
  digitops plan --env dev

  # One release, then the releases of one module
  digitops plan --env egov-demo --release egov-user
  digitops plan --env egov-demo --selector module=pgr

  # For CI: markdown for a pull-request comment, exit code 2 when something changes
  digitops plan --repo ./DIGIT-DevOps --env egov-demo -o markdown --detailed-exitcode

  # From Git alone, no cluster (does everything render?)
  digitops plan --env egov-demo --offline -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			o.renderTwice = true
			run, err := newSyncRun(ctx, g, o.planFlags)
			if err != nil {
				return err
			}
			synced, err := run.sync(ctx, run.opts)
			if err != nil {
				return err
			}
			p := run.planned(synced.Plan)
			notes, err := rolloutNotes(run.env, g.configPath())
			if err != nil {
				return err
			}
			p.plan.Notes = append(p.plan.Notes, notes...)
			if g.output != "json" && o.diff {
				p.renderDiffs(ctx)
			}
			if err := printPlan(s.out, g.output, p, isTerminal(s.out)); err != nil {
				return err
			}
			if err := planErrors(p.plan); err != nil {
				return err
			}
			if o.detailedExitCode && p.plan.Summary().Changes() > 0 {
				return &exitError{code: 2}
			}
			return nil
		},
	}
	o.add(cmd)
	cmd.Flags().BoolVar(&o.offline, "offline", false, "plan from Git alone: read no cluster and no chart repository (remote charts from the cache), show every release as an install")
	cmd.Flags().StringVar(&o.kubeVersion, "kube-version", "", "with --offline: the Kubernetes version charts see (default "+reconciler.DefaultKubeVersion()+", the version digitops is built with)")
	cmd.Flags().BoolVar(&o.detailedExitCode, "detailed-exitcode", false, "exit 0 when nothing changes, 2 when something would, 1 on error")
	return cmd
}

// rolloutNotes says, for each rollout the environment is in, when a new
// revision reaches it.
func rolloutNotes(env *manifest.Environment, configPath string) ([]string, error) {
	cfg, _, err := loader.Config(loader.Options{RepoDir: env.RepoDir, ConfigPath: configPath})
	if err != nil {
		return nil, err
	}
	var notes []string
	for _, rc := range cfg.Rollouts {
		waves, err := rollout.Waves(rc, cfg.EnvironmentNames())
		if err != nil {
			return nil, err
		}
		if note, ok := rollout.Reach(rc.Name, waves, env.Name); ok {
			notes = append(notes, note)
		}
	}
	return notes, nil
}

// planned is a plan with what it was made from, for printing.
type planned struct {
	env  *manifest.Environment
	plan *reconciler.Plan
	// cluster is nil offline.
	cluster *kube.Cluster
	offline bool
	// diffs are the rendered changes by step index (after renderDiffs).
	diffs map[int]stepDiff
}

// syncRun is one sync from the command line: the environment, the syncer
// for its cluster (offline: none), and the options the flags give.
type syncRun struct {
	env     *manifest.Environment
	syncer  *reconciler.Syncer
	opts    reconciler.SyncOptions
	sel     *filter
	offline bool
}

// newSyncRun loads the environment and prepares its sync: the cluster
// (unless offline), a planner, and the filters, which the plan applies
// before it reads or renders anything for the releases they leave out.
func newSyncRun(ctx context.Context, g *globalOptions, f planFlags) (*syncRun, error) {
	env, from, err := g.loadEnvironment(ctx)
	if err != nil {
		return nil, err
	}
	sel, err := newFilter(f.releases, f.selectors)
	if err != nil {
		return nil, err
	}
	if f.kubeVersion != "" && !f.offline {
		return nil, fmt.Errorf("--kube-version is for --offline plans: online, the cluster's version is used")
	}
	rules, err := environmentRules(ctx, f.policy, env)
	if err != nil {
		return nil, err
	}
	// The policy's clusters are checked before anything connects, and
	// offline too: the pull request's plan says what the daemon will refuse.
	if err := rules.Cluster(g.repositoryCluster(env)); err != nil {
		return nil, fmt.Errorf("environment %q: %w", env.Name, err)
	}
	var cluster *kube.Cluster
	if !f.offline {
		if cluster, err = g.cluster(env); err != nil {
			return nil, err
		}
	}
	chartCache, err := cacheDir("charts")
	if err != nil {
		return nil, err
	}
	planner, err := reconciler.NewPlanner(cluster, chartCache)
	if err != nil {
		return nil, err
	}
	if f.offline {
		// No network but the Git source: remote charts come from the
		// cache an online plan filled, or the plan names them.
		planner.Charts = reconciler.LocalCharts{Remote: &chartrepo.Cache{Dir: chartCache, Offline: true}}
	}
	if env.Policy.Drift == manifest.DriftOff {
		planner.Drift = nil
	}
	planner.RenderTwice = f.renderTwice
	if f.kubeVersion != "" {
		if _, err := reconciler.ParseKubeVersion(f.kubeVersion); err != nil {
			return nil, err
		}
		planner.KubeVersion = f.kubeVersion
	}
	run := &syncRun{
		env:     env,
		syncer:  &reconciler.Syncer{Planner: planner, Cluster: cluster, Log: slog.Default()},
		sel:     sel,
		offline: f.offline,
		// One plan per command: the watches stop before applying. apply
		// labels what it writes with the commit when it read one.
		opts: reconciler.SyncOptions{StopWatching: true, Commit: from.commit, PlanOptions: reconciler.PlanOptions{ForcePrune: f.forcePrune, Revision: from.revision, Policy: rules}},
	}
	if !sel.empty() {
		run.opts.Select = sel.match
		if f.includeNeeds {
			run.opts.Select = withNeeds(env, sel.match)
		}
	}
	return run, nil
}

// sync runs the sync with opts; a filter that selects nothing is an error,
// raised before opts.Planned sees the plan.
func (r *syncRun) sync(ctx context.Context, opts reconciler.SyncOptions) (reconciler.Synced, error) {
	planned := opts.Planned
	opts.Planned = func(ctx context.Context, plan *reconciler.Plan) (bool, error) {
		if !r.sel.empty() && len(plan.Steps) == 0 {
			return false, fmt.Errorf("no release matches %s; the environment has: %s", r.sel, strings.Join(releaseNames(r.env), ", "))
		}
		if planned == nil {
			return true, nil
		}
		return planned(ctx, plan)
	}
	synced, err := r.syncer.Sync(ctx, r.env, opts)
	var lre *reconciler.LiveReadError
	if errors.As(err, &lre) {
		return synced, fmt.Errorf("%w (is the cluster reachable? check --kubeconfig and --context, or plan with --offline)", err)
	}
	return synced, err
}

// planned is the plan with what it was made from, for printing.
func (r *syncRun) planned(plan *reconciler.Plan) *planned {
	return &planned{env: r.env, plan: plan, cluster: r.syncer.Cluster, offline: r.offline}
}

// planErrors is the error plan and apply exit with when releases are in
// error (exit code 1, whatever --detailed-exitcode asks): one line, the
// releases named; each error is in the plan printed above.
func planErrors(plan *reconciler.Plan) error {
	errs := plan.Errors()
	if len(errs) == 0 {
		// Filtered (--release, --selector): the releases in error may be
		// left out, not what they block.
		for _, st := range plan.Steps {
			if st.Action == reconciler.ActionBlocked {
				return fmt.Errorf("release %q is blocked: %s", st.Release.Name, st.Reason)
			}
		}
		return nil
	}
	if len(errs) == 1 {
		st := errs[0]
		reason := st.Reason // masked by the plan
		if strings.Contains(reason, fmt.Sprintf("release %q", st.Release.Name)) {
			return errors.New(reason)
		}
		return fmt.Errorf("release %q: %s", st.Release.Name, reason)
	}
	names := make([]string, len(errs))
	for i, st := range errs {
		names[i] = st.Release.Name
	}
	return fmt.Errorf("%d release(s) in error: %s", len(errs), strings.Join(names, ", "))
}

// withNeeds selects what match selects and, transitively, what that needs.
func withNeeds(env *manifest.Environment, match func(manifest.ReleaseSpec) bool) func(manifest.ReleaseSpec) bool {
	byName := make(map[string]manifest.ReleaseSpec, len(env.Releases))
	for _, r := range env.Releases {
		byName[r.Name] = r
	}
	keep := map[string]bool{}
	var add func(name string)
	add = func(name string) {
		if keep[name] {
			return
		}
		keep[name] = true
		for _, n := range byName[name].Needs {
			add(n)
		}
	}
	for _, r := range env.Releases {
		if match(r) {
			add(r.Name)
		}
	}
	return func(r manifest.ReleaseSpec) bool {
		if _, inEnv := byName[r.Name]; !inEnv {
			return match(r) // a prune: only when asked for
		}
		return keep[r.Name]
	}
}

func releaseNames(env *manifest.Environment) []string {
	names := make([]string, len(env.Releases))
	for i, r := range env.Releases {
		names[i] = r.Name
	}
	return names
}

// filter selects releases by name and by label selectors.
type filter struct {
	names map[string]bool
	// any is a list of selectors, each a list of terms that must all hold.
	any  [][]selTerm
	text []string
}

type selTerm struct {
	key, value string
	negate     bool
}

func newFilter(names, selectors []string) (*filter, error) {
	f := &filter{names: map[string]bool{}}
	for _, n := range names {
		f.names[n] = true
		f.text = append(f.text, "--release "+n)
	}
	for _, s := range selectors {
		var terms []selTerm
		for _, part := range strings.Split(s, ",") {
			t := selTerm{}
			k, v, ok := strings.Cut(part, "!=")
			if ok {
				t.negate = true
			} else if k, v, ok = strings.Cut(part, "="); !ok {
				return nil, fmt.Errorf("invalid selector %q: want key=value or key!=value, e.g. --selector tier=core,name=egov-user", s)
			}
			t.key, t.value = strings.TrimSpace(k), strings.TrimSpace(v)
			terms = append(terms, t)
		}
		f.any = append(f.any, terms)
		f.text = append(f.text, "--selector "+s)
	}
	return f, nil
}

func (f *filter) empty() bool { return len(f.names) == 0 && len(f.any) == 0 }

func (f *filter) String() string { return strings.Join(f.text, " ") }

// match says whether the release is selected: its name is one of the names
// (when any are given) and one of the selectors holds (when any are given).
func (f *filter) match(r manifest.ReleaseSpec) bool {
	if len(f.names) > 0 && !f.names[r.Name] {
		return false
	}
	if len(f.any) == 0 {
		return true
	}
	labels := map[string]string{}
	for k, v := range r.Labels {
		labels[k] = v
	}
	labels["name"], labels["namespace"] = r.Name, r.Namespace
	for _, terms := range f.any {
		ok := true
		for _, t := range terms {
			if (labels[t.key] == t.value) == t.negate {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
