package reconciler_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/release"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/loader"
)

// quickstartEnv loads the quickstart's dev environment from the example
// directory (read only).
func quickstartEnv(t *testing.T) *manifest.Environment {
	t.Helper()
	env, err := loader.Environment(context.Background(), loader.Options{RepoDir: "../examples/quickstart"}, "dev")
	if err != nil {
		t.Fatalf("load quickstart: %v", err)
	}
	return env
}

// ownedLive returns live releases owned by environment owner, deployed, one
// per name, in namespace egov.
func ownedLive(owner string, names ...string) kube.LiveState {
	live := kube.LiveState{}
	for _, n := range names {
		l := kube.LiveRelease{Name: n, Namespace: "egov", Version: 1, Status: release.StatusDeployed,
			Modified: time.Now(), Environment: owner, LastDeployed: 1}
		live[l.Key()] = l
	}
	return live
}

func merge(states ...kube.LiveState) kube.LiveState {
	out := kube.LiveState{}
	for _, s := range states {
		for k, v := range s {
			out[k] = v
		}
	}
	return out
}

var quickstartNames = []string{"egov-config", "egov-mdms-service", "egov-user", "pgr-services"}

func TestPlan_prune(t *testing.T) {
	tests := []struct {
		name string
		// prune is the environment's prune policy.
		prune bool
		// keep is how many of the quickstart's releases stay in Git.
		keep int
		// live is the cluster besides the quickstart's releases (all
		// owned by dev).
		live kube.LiveState
		// force lifts the prune guard.
		force bool
		// only selects one release (plan --release), "" for all.
		only string
		// broken makes the first release fail to load.
		broken bool
		// uninstall is the releases the plan uninstalls, sorted; unpruned
		// those it leaves installed although Git no longer has them.
		uninstall, unpruned []string
		// err is a substring of the expected error; empty for none.
		err string
		// note is a substring of an expected plan note.
		note string
	}{
		{
			name:      "one of five owned releases gone: pruned",
			prune:     true,
			keep:      4,
			live:      ownedLive("dev", "old"),
			uninstall: []string{"old"},
		},
		{
			name:      "other owners and unlabelled releases are never pruned",
			prune:     true,
			keep:      4,
			live:      merge(ownedLive("dev", "old"), ownedLive("prod", "prod-svc"), ownedLive("", "hand-made")),
			uninstall: []string{"old"},
		},
		{
			name:     "prune off: a note, no uninstall",
			prune:    false,
			keep:     4,
			live:     ownedLive("dev", "old"),
			unpruned: []string{"old"},
			note:     "1 release(s) owned by this environment are no longer in Git; prune is off",
		},
		{
			name:     "a release in error: nothing pruned",
			prune:    true,
			keep:     4,
			live:     ownedLive("dev", "old"),
			broken:   true,
			unpruned: []string{"old"},
			note:     "1 release(s) owned by this environment are no longer in Git; nothing is pruned while 1 release(s) are in error",
		},
		{
			name:  "two of six (33%) is over the 30% guard",
			prune: true,
			keep:  4,
			live:  ownedLive("dev", "old-a", "old-b"),
			err:   "refusing to prune 2 of 6 releases (more than 30%)",
		},
		{
			name:      "forced past the guard",
			prune:     true,
			keep:      4,
			live:      ownedLive("dev", "old-a", "old-b"),
			force:     true,
			uninstall: []string{"old-a", "old-b"},
		},
		{
			name:  "an environment emptied by mistake is not wiped",
			prune: true,
			keep:  0,
			err:   "refusing to prune 4 of 4 releases",
		},
		{
			name:      "a selection is measured against every owned release, not the selected ones",
			prune:     true,
			keep:      4,
			live:      ownedLive("dev", "old"),
			only:      "old",
			uninstall: []string{"old"},
		},
		{
			name:  "foreign releases do not count towards the guard",
			prune: true,
			keep:  4,
			live:  merge(ownedLive("dev", "old-a", "old-b"), ownedLive("", "x1", "x2", "x3", "x4", "x5", "x6")),
			err:   "refusing to prune 2 of 6 releases",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := quickstartEnv(t)
			env.Policy.Prune = tt.prune
			env.Releases = env.Releases[:tt.keep]
			if tt.broken {
				env.Releases[0].Err = errors.New("broken")
			}
			live := merge(ownedLive("dev", quickstartNames...), tt.live)
			planner := &reconciler.Planner{Charts: reconciler.LocalCharts{}}
			opts := reconciler.PlanOptions{ForcePrune: tt.force}
			if tt.only != "" {
				opts.Select = func(r manifest.ReleaseSpec) bool { return r.Name == tt.only }
			}
			plan, err := planner.Plan(context.Background(), env, live, opts)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, st := range plan.Steps {
				if st.Action == reconciler.ActionUninstall {
					got = append(got, st.Release.Name)
				}
			}
			sort.Strings(got)
			if strings.Join(got, ",") != strings.Join(tt.uninstall, ",") {
				t.Errorf("uninstall %v, want %v", got, tt.uninstall)
			}
			got = nil
			for _, st := range plan.Unpruned {
				got = append(got, st.Release.Name)
			}
			if strings.Join(got, ",") != strings.Join(tt.unpruned, ",") {
				t.Errorf("unpruned %v, want %v", got, tt.unpruned)
			}
			if tt.note != "" && !strings.Contains(strings.Join(plan.Notes, "\n"), tt.note) {
				t.Errorf("notes %q, want one containing %q", plan.Notes, tt.note)
			}
		})
	}
}

func TestPlan_actionsFromLiveState(t *testing.T) {
	env := quickstartEnv(t)
	live := merge(
		ownedLive("prod", "egov-config"),   // someone else's: skipped
		ownedLive("", "egov-mdms-service"), // unlabelled: adopted
	)
	stuck := kube.LiveRelease{Name: "egov-user", Namespace: "egov", Version: 2, Status: release.StatusPendingUpgrade,
		Modified: time.Now().Add(-time.Hour), Environment: "dev", LastDeployed: 1}
	live[stuck.Key()] = stuck
	planner := &reconciler.Planner{Charts: reconciler.LocalCharts{}}
	plan, err := planner.Plan(context.Background(), env, live, reconciler.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]reconciler.Action{
		"egov-config":       reconciler.ActionSkip,
		"egov-mdms-service": reconciler.ActionUpgrade,
		"egov-user":         reconciler.ActionUnlock,
		"pgr-services":      reconciler.ActionInstall,
	}
	for _, st := range plan.Steps {
		if want[st.Release.Name] != st.Action {
			t.Errorf("%s: %s (%s), want %s", st.Release.Name, st.Action, st.Reason, want[st.Release.Name])
		}
	}
	if len(plan.Steps) != len(want) {
		t.Errorf("%d steps, want %d", len(plan.Steps), len(want))
	}
}
