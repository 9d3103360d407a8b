package shard

import (
	"fmt"
	"math"
	"testing"
)

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// memberPrefixes are identities as they come: StatefulSet-like, Deployment
// pod names, host names.
var memberPrefixes = []string{"digitops", "digitops-5f7c9d8b4-x", "node", "replica"}

func loads(a map[string]string) map[string]int {
	out := map[string]int{}
	for _, m := range a {
		out[m]++
	}
	return out
}

func TestAssign_balance(t *testing.T) {
	for _, prefix := range memberPrefixes {
		for members := 3; members <= 20; members++ {
			for _, envs := range []int{10, 30, 100, 1000} {
				ms := names(prefix, members)
				a := Assign(names("env", envs), ms)
				if len(a) != envs {
					t.Fatalf("%s×%d, %d environments: %d assigned", prefix, members, envs, len(a))
				}
				l := loads(a)
				limit := int(math.Ceil(float64(envs) / float64(members) * LoadBound))
				most := 0
				for m, n := range l {
					if n > limit {
						t.Errorf("%s×%d, %d environments: %s owns %d, over the bound %d", prefix, members, envs, m, n, limit)
					}
					most = max(most, n)
				}
				if envs == 1000 {
					if r := float64(most) / (float64(envs) / float64(members)); r > 1.3 {
						t.Errorf("%s×%d, 1000 environments: max/mean %.3f > 1.3", prefix, members, r)
					}
				}
				if envs >= 10*members && len(l) != members {
					t.Errorf("%s×%d, %d environments: only %d members own any", prefix, members, envs, len(l))
				}
			}
		}
	}
}

func TestAssign_movement(t *testing.T) {
	tests := []struct {
		envs, from, to int
	}{
		{30, 3, 4},  // a replica joins (issue's case: at most ⌈30/4⌉+2 move)
		{30, 4, 3},  // it leaves again
		{100, 5, 6}, // a bigger estate
		{1000, 10, 11},
		{1000, 11, 10},
		{20, 2, 3},
	}
	for _, tc := range tests {
		for _, prefix := range memberPrefixes {
			envs := names("env", tc.envs)
			before := Assign(envs, names(prefix, tc.from))
			after := Assign(envs, names(prefix, tc.to))
			moved := 0
			for _, e := range envs {
				if before[e] != after[e] {
					moved++
				}
			}
			// Plain rendezvous hashing moves 1/N on average, with the
			// spread of a binomial draw; the load bound adds a few.
			ideal := float64(tc.envs) / float64(max(tc.from, tc.to))
			if allowed := int(math.Ceil(ideal*1.4)) + 2; moved > allowed {
				t.Errorf("%s: %d environments, %d → %d members: %d moved, want ≤ %d", prefix, tc.envs, tc.from, tc.to, moved, allowed)
			}
		}
	}
}

func TestAssign_orderAndDuplicates(t *testing.T) {
	a := Assign([]string{"b", "a", "c", "a"}, []string{"m2", "m1", "m1", ""})
	b := Assign([]string{"c", "a", "b"}, []string{"m1", "m2"})
	if len(a) != 3 || fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("Assign depends on order or duplicates: %v vs %v", a, b)
	}
	if got := Assign([]string{"a"}, nil); len(got) != 0 {
		t.Fatalf("no members: %v", got)
	}
	if got := Assign([]string{"a", "b"}, []string{"only"}); got["a"] != "only" || got["b"] != "only" {
		t.Fatalf("one member owns all: %v", got)
	}
}

// TestAssign_controlPlaneCase pins the case the control-plane test runs:
// replicas replica-0..2, then replica-3 joins, 30 environments env-00..29.
func TestAssign_controlPlaneCase(t *testing.T) {
	envs := make([]string, 30)
	for i := range envs {
		envs[i] = fmt.Sprintf("env-%02d", i)
	}
	before := Assign(envs, names("replica", 3))
	after := Assign(envs, names("replica", 4))
	moved := 0
	for _, e := range envs {
		if before[e] != after[e] {
			moved++
		}
	}
	if moved > 10 { // ⌈30/4⌉+2
		t.Fatalf("%d environments move when replica-3 joins, want ≤ 10", moved)
	}
	for m, n := range loads(before) {
		if n == 0 || n > 13 {
			t.Fatalf("%s owns %d of 30", m, n)
		}
	}
}
