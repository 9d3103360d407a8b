package reconciler

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"

	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/loader"
)

// countingCharts loads local charts and records which.
type countingCharts struct {
	mu     sync.Mutex
	loaded []string
}

func (c *countingCharts) Load(ctx context.Context, ref manifest.ChartRef) (*chart.Chart, error) {
	ch, err := LocalCharts{}.Load(ctx, ref)
	if err == nil {
		c.mu.Lock()
		c.loaded = append(c.loaded, ch.Metadata.Name)
		c.mu.Unlock()
	}
	return ch, err
}

// TestPlan_options: what a plan's options leave out is neither loaded nor
// rendered, and the decisions say why.
func TestPlan_options(t *testing.T) {
	byName := func(names ...string) func(manifest.ReleaseSpec) bool {
		return func(r manifest.ReleaseSpec) bool { return slices.Contains(names, r.Name) }
	}
	oldLive := kube.LiveRelease{Name: "old", Namespace: "egov", Version: 1, Status: release.StatusDeployed, Modified: time.Now(), Environment: "dev", LastDeployed: 1}
	tests := []struct {
		name string
		// opts are the plan's options; broken makes that release fail to
		// load.
		opts   PlanOptions
		broken string
		// steps are the plan's steps as "name action status"; loaded the
		// charts loaded; rendered the releases rendered.
		steps    []string
		loaded   []string
		rendered []string
	}{
		{
			name:     "no options: everything",
			steps:    []string{"egov-config install absent", "egov-mdms-service install absent", "egov-user install absent", "pgr-services install absent", "old uninstall removed"},
			loaded:   []string{"egov-config", "egov-mdms-service", "egov-user", "pgr-services"},
			rendered: []string{"egov-config", "egov-mdms-service", "egov-user", "pgr-services"},
		},
		{
			name:     "one release selected: nothing read for the others, no prune",
			opts:     PlanOptions{Select: byName("egov-user")},
			steps:    []string{"egov-user install absent"},
			loaded:   []string{"egov-user"},
			rendered: []string{"egov-user"},
		},
		{
			name:  "a selected prune",
			opts:  PlanOptions{Select: byName("old")},
			steps: []string{"old uninstall removed"},
		},
		{
			name:     "suspended: skipped before its chart is loaded, its prune too",
			opts:     PlanOptions{Suspended: map[string]bool{"egov-user": true, "old": true}},
			steps:    []string{"egov-config install absent", "egov-mdms-service install absent", "egov-user skip suspended", "pgr-services install absent", "old skip suspended"},
			loaded:   []string{"egov-config", "egov-mdms-service", "pgr-services"},
			rendered: []string{"egov-config", "egov-mdms-service", "pgr-services"},
		},
		{
			name: "held back: skipped and not rendered",
			opts: PlanOptions{HeldBack: func(name string, d Desired) string {
				if name == "pgr-services" && d.ChartDigest != "" && d.ValuesDigest != "" {
					return "failed 3 time(s)"
				}
				return ""
			}},
			steps:    []string{"egov-config install absent", "egov-mdms-service install absent", "egov-user install absent", "pgr-services skip held-back", "old uninstall removed"},
			loaded:   []string{"egov-config", "egov-mdms-service", "egov-user", "pgr-services"},
			rendered: []string{"egov-config", "egov-mdms-service", "egov-user"},
		},
		{
			name:     "a need left out that fails to load still blocks",
			opts:     PlanOptions{Select: byName("egov-user")},
			broken:   "egov-mdms-service",
			steps:    []string{"egov-user blocked blocked"},
			loaded:   []string{"egov-user"},
			rendered: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := loader.Environment(context.Background(), loader.Options{RepoDir: "../examples/quickstart"}, "dev")
			if err != nil {
				t.Fatal(err)
			}
			for i := range env.Releases {
				if env.Releases[i].Name == tt.broken {
					env.Releases[i].Err = errors.New("environments/dev.yaml:3: invalid YAML")
				}
			}
			// The only owned release is the one to prune: past the guard.
			env.Policy.Prune, tt.opts.ForcePrune = true, true
			charts := &countingCharts{}
			p := &Planner{Charts: charts}
			plan, err := p.Plan(context.Background(), env, kube.LiveState{oldLive.Key(): oldLive}, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var steps, rendered []string
			for _, st := range plan.Steps {
				steps = append(steps, st.Release.Name+" "+string(st.Action)+" "+string(st.Status))
				if st.rendered != "" {
					rendered = append(rendered, st.Release.Name)
				}
			}
			if !slices.Equal(steps, tt.steps) {
				t.Errorf("steps\n got %q\nwant %q", steps, tt.steps)
			}
			slices.Sort(charts.loaded)
			if !slices.Equal(charts.loaded, tt.loaded) {
				t.Errorf("charts loaded %q, want %q", charts.loaded, tt.loaded)
			}
			if !slices.Equal(rendered, tt.rendered) {
				t.Errorf("rendered %q, want %q", rendered, tt.rendered)
			}
		})
	}
}

// TestHoldBack: only installs and upgrades wait; a drift correction of the
// same release does not.
func TestHoldBack(t *testing.T) {
	held := func(string, Desired) string { return "failed 2 time(s)" }
	for _, tt := range []struct {
		obs  Observation
		want Action
	}{
		{Observation{Status: StatusOutOfSync, Reason: "values changed"}, ActionSkip},
		{Observation{Status: StatusAbsent, Reason: "not installed"}, ActionSkip},
		{Observation{Status: StatusDrifted, Drift: []drift.Item{{Object: "Deployment/egov/a", Kind: drift.Deleted}}}, ActionCorrectDrift},
		{Observation{Status: StatusStuck, Reason: "stuck"}, ActionUnlock},
	} {
		plan := &Plan{Steps: []Step{newStep(Step{Release: manifest.ReleaseSpec{Name: "a"}}, tt.obs, manifest.DriftCorrect)}}
		holdBack(plan, held, manifest.DriftCorrect)
		if got := plan.Steps[0].Action; got != tt.want {
			t.Errorf("%s: %s, want %s", tt.obs.Status, got, tt.want)
		}
	}
}
