package web

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestNormalizeURL(t *testing.T) {
	same := []string{
		"https://github.com/egov/envs.git",
		"https://user:token@GitHub.com/egov/envs",
		"git@github.com:egov/envs.git",
		"ssh://git@github.com:22/egov/envs.git",
		"https://github.com/egov/envs/",
	}
	for _, u := range same {
		if got := normalizeURL(u); got != "github.com/egov/envs" {
			t.Errorf("normalizeURL(%q) = %q", u, got)
		}
	}
	if normalizeURL("file:///tmp/repo") != normalizeURL("/tmp/repo/") {
		t.Error("file:// and a local path differ")
	}
}

func TestDeliveries_bounded(t *testing.T) {
	ds := newDeliveries(time.Minute, 3)
	now := time.Now()
	for i, id := range []string{"a", "b", "c", "d"} {
		if !ds.first(id, now.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("%s seen before", id)
		}
	}
	if len(ds.seen) > 3 {
		t.Errorf("%d ids kept, want at most 3", len(ds.seen))
	}
	if ds.first("d", now.Add(10*time.Second)) {
		t.Error("d within the window is not a replay")
	}
	if !ds.first("d", now.Add(2*time.Minute)) {
		t.Error("d after the window should pass")
	}
}

// TestDeliveries_memoryBounded: the ids remembered cost the same whatever
// their length (they are kept as digests).
func TestDeliveries_memoryBounded(t *testing.T) {
	ds := newDeliveries(time.Minute, 1000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	now := time.Now()
	for i := range 200 {
		id := fmt.Sprintf("%d-%s", i, strings.Repeat("x", 100<<10)) // 100 KiB each, 20 MiB in all
		if !ds.first(id, now) {
			t.Fatalf("id %d seen before", i)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 4<<20 {
		t.Errorf("remembering 200 ids of 100 KiB grew the heap by %d KiB, want under 4 MiB", grown>>10)
	}
	runtime.KeepAlive(ds)
}

// TestDeliveries_evictsOldestFirst: a full set forgets its oldest key, and
// a key seen again after the window counts as new.
func TestDeliveries_evictsOldestFirst(t *testing.T) {
	ds := newDeliveries(time.Minute, 2)
	now := time.Now()
	ds.first("a", now)
	ds.first("b", now.Add(time.Second))
	ds.first("c", now.Add(2*time.Second)) // a goes
	if ds.first("b", now.Add(3*time.Second)) {
		t.Error("b was forgotten before a")
	}
	if !ds.first("a", now.Add(4*time.Second)) {
		t.Error("a was kept beyond the bound")
	}
	if len(ds.seen) > 2 || len(ds.order) > 2 {
		t.Errorf("%d keys, %d in order, want at most 2", len(ds.seen), len(ds.order))
	}
}

// TestPush_moved: a push moves a source when it names the source's
// repository (any of its addresses) and the reference it follows.
func TestPush_moved(t *testing.T) {
	const repo = "https://github.com/egov/envs.git"
	tests := []struct {
		name string // what the case shows
		push Push   // what the webhook said
		ref  string // the source's --ref
		want bool   // whether the source moved
	}{
		{"branch followed", Push{URLs: []string{"git@github.com:egov/envs.git"}, Ref: "refs/heads/main"}, "main", true},
		{"another branch", Push{URLs: []string{repo}, Ref: "refs/heads/dev"}, "main", false},
		{"another repository", Push{URLs: []string{"https://github.com/egov/other"}, Ref: "refs/heads/main"}, "main", false},
		{"no reference named", Push{URLs: []string{repo}}, "main", true},
		{"remote HEAD is the default branch", Push{URLs: []string{repo}, Ref: "refs/heads/main", DefaultBranch: "main"}, "", true},
		{"remote HEAD, another branch", Push{URLs: []string{repo}, Ref: "refs/heads/dev", DefaultBranch: "main"}, "", false},
		{"a tag for a semver source", Push{URLs: []string{repo}, Ref: "refs/tags/v1.2.0"}, "semver:>=1.0.0", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.push.Moved(repo, tt.ref); got != tt.want {
				t.Errorf("Moved(%q, %q) = %v, want %v", repo, tt.ref, got, tt.want)
			}
		})
	}
}
