package main

import (
	"context"
	"strings"
	"testing"
)

// TestPlan_rolloutRepository: plan says, for an environment of a rollout,
// whether the next revision reaches it now or waits, and after which waves.
func TestPlan_rolloutRepository(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		env  string
		want string
	}{
		{"dev", "note: rollout egov: dev is in wave 1 of 3: a new revision reaches it at once; qa, prod-a, prod-b wait for it"},
		{"prod-b", "note: rollout egov: prod-b is in wave 3 of 3: `digitops serve` syncs it at the revision last promoted to it, and a new revision reaches it only after wave 1 (dev) in sync for 10m0s, then wave 2 (qa) in sync for 30m0s with its Prometheus gate"},
	} {
		r := runCLI(t, ctx, "plan", "--repo", "../../examples/rollout", "--env", tt.env, "--offline", "--diff=false")
		if r.code != 0 {
			t.Fatalf("plan --env %s: exit %d\n%s%s", tt.env, r.code, r.out, r.stderr)
		}
		if !strings.Contains(r.out, tt.want) {
			t.Errorf("plan --env %s says\n%s\nwant a line with %q", tt.env, r.out, tt.want)
		}
	}
}

func TestRolloutCommand_badInput(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"rollout", "rewind", "egov"}, `unknown rollout command "rewind"`},
		{[]string{"rollout", "promote"}, "rollout promote needs the rollout's name"},
		{[]string{"rollout", "status", "--server", "http://127.0.0.1:1"}, "unable to reach the daemon"},
	} {
		r := runCLI(t, ctx, tt.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error with %q", tt.args, r.code, r.stderr, tt.want)
		}
	}
}
