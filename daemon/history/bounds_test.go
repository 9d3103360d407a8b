package history

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 11, 30, 10, 0, 0, 0, time.UTC)

// at is an entry that started i minutes after t0, with optional releases.
func at(i int, releases ...string) Entry {
	e := Entry{Started: t0.Add(time.Duration(i) * time.Minute), Duration: "1s", Trigger: TriggerPoll, Revision: fmt.Sprintf("main@sha1:%040d", i), Result: ResultSuccess}
	for _, r := range releases {
		e.Releases = append(e.Releases, Release{Name: r, Namespace: "egov", Action: "upgrade", Outcome: "succeeded", Revision: 2})
	}
	return e
}

// minutes lists the entries' start minutes after t0.
func minutes(entries []Entry) string {
	var s []string
	for _, e := range entries {
		s = append(s, fmt.Sprint(int(e.Started.Sub(t0)/time.Minute)))
	}
	return strings.Join(s, ",")
}

func span(from, to int) []Entry {
	var out []Entry
	for i := from; i <= to; i++ {
		out = append(out, at(i))
	}
	return out
}

func jsonLen(t *testing.T, v any) int {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

func TestBound(t *testing.T) {
	one := jsonLen(t, at(1))
	tests := []struct {
		name       string  // what the case shows
		entries    []Entry // oldest first
		maxEntries int     // the count bound
		maxBytes   int     // the JSON bound
		want       string  // minutes of the entries kept
	}{
		{name: "under both bounds", entries: span(1, 3), maxEntries: 5, maxBytes: 1 << 20, want: "1,2,3"},
		{name: "the oldest go first", entries: span(1, 5), maxEntries: 3, maxBytes: 1 << 20, want: "3,4,5"},
		{name: "exactly the count", entries: span(1, 3), maxEntries: 3, maxBytes: 1 << 20, want: "1,2,3"},
		// "[" + 3 entries + 2 commas + "]" is exactly the budget.
		{name: "exactly the byte budget", entries: span(1, 3), maxEntries: 100, maxBytes: 3*one + 4, want: "1,2,3"},
		{name: "a byte short of it", entries: span(1, 3), maxEntries: 100, maxBytes: 3*one + 3, want: "2,3"},
		{name: "bytes bind before the count", entries: span(1, 10), maxEntries: 8, maxBytes: 2*one + 3, want: "9,10"},
		{name: "nothing fits", entries: span(1, 2), maxEntries: 100, maxBytes: 10, want: ""},
		{name: "empty", entries: nil, maxEntries: 100, maxBytes: 100, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Bound(tt.entries, tt.maxEntries, tt.maxBytes)
			if m := minutes(got); m != tt.want {
				t.Errorf("kept %q, want %q", m, tt.want)
			}
			if n := jsonLen(t, got); len(got) > 0 && n > tt.maxBytes {
				t.Errorf("kept %d bytes of JSON, over the budget of %d", n, tt.maxBytes)
			}
		})
	}
}

// TestBound_ringLimits: a hundred entries of many releases each stay
// under MaxBytes, dropping the oldest.
func TestBound_ringLimits(t *testing.T) {
	var releases []string
	for i := range 60 {
		releases = append(releases, fmt.Sprintf("egov-service-number-%02d", i))
	}
	var entries []Entry
	for i := range 150 {
		entries = append(entries, Fit(at(i, releases...), MaxEntryBytes))
	}
	got := Bound(entries, MaxEntries, MaxBytes)
	if n := jsonLen(t, got); n > MaxBytes {
		t.Fatalf("%d bytes, over MaxBytes", n)
	}
	if len(got) == 0 || len(got) > MaxEntries || !got[len(got)-1].Started.Equal(at(149).Started) {
		t.Fatalf("kept %d entries ending at %s: want at most %d, the newest last", len(got), minutes(got[len(got)-1:]), MaxEntries)
	}
	if len(got) == MaxEntries {
		t.Logf("100 entries of 60 releases: %d bytes", jsonLen(t, got))
	}
}

func TestMerge(t *testing.T) {
	standby := at(4)
	standby.Result = ResultStandby
	tests := []struct {
		name  string    // what the case shows
		lists [][]Entry // each oldest first
		want  string    // minutes, in order
	}{
		{name: "interleaved by start time", lists: [][]Entry{{at(1), at(3), at(5)}, {at(2), at(4)}}, want: "1,2,3,4,5"},
		{name: "the same sync twice is kept once", lists: [][]Entry{{at(1), at(2)}, {at(2), at(3)}}, want: "1,2,3"},
		{name: "same start, other trigger: both", lists: [][]Entry{{at(4)}, {standby, func() Entry { e := at(4); e.Trigger = TriggerWatch; return e }()}}, want: "4,4"},
		{name: "one list", lists: [][]Entry{{at(1), at(2)}}, want: "1,2"},
		{name: "none", lists: nil, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := minutes(Merge(tt.lists...)); got != tt.want {
				t.Errorf("merged %q, want %q", got, tt.want)
			}
		})
	}
	// The same sync read back from JSON (another location, monotonic
	// clock stripped) is the same key.
	e := at(7)
	e.Started = time.Now()
	b, _ := json.Marshal(e)
	var back Entry
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if got := Merge([]Entry{e}, []Entry{back}); len(got) != 1 {
		t.Errorf("an entry and its JSON round trip merge into %d entries, want 1", len(got))
	}
}

func TestFit(t *testing.T) {
	many := at(1)
	for i := range 500 {
		many.Releases = append(many.Releases, Release{Name: fmt.Sprintf("release-%03d", i), Namespace: "egov", Action: "install", Outcome: "succeeded", Revision: 1})
	}
	tests := []struct {
		name  string // what the case shows
		entry Entry  // the entry to fit
		max   int    // the bound of its JSON
		kept  string // releases kept: all, some or none
	}{
		{name: "fits as it is", entry: at(1, "a", "b"), max: MaxEntryBytes, kept: "all"},
		{name: "too many releases", entry: many, max: 8 << 10, kept: "some"},
		{name: "no room for any release", entry: at(1, "a", "b"), max: jsonLen(t, at(1)) + 20, kept: "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Fit(tt.entry, tt.max)
			if n := jsonLen(t, got); n > tt.max {
				t.Errorf("%d bytes, over %d", n, tt.max)
			}
			if got.MoreReleases+len(got.Releases) != len(tt.entry.Releases) {
				t.Errorf("%d kept + %d more, want %d in all", len(got.Releases), got.MoreReleases, len(tt.entry.Releases))
			}
			kept := "some"
			switch len(got.Releases) {
			case len(tt.entry.Releases):
				kept = "all"
			case 0:
				kept = "none"
			}
			if kept != tt.kept {
				t.Errorf("kept %d releases of %d, want %s", len(got.Releases), len(tt.entry.Releases), tt.kept)
			}
			for i, r := range got.Releases {
				if r.Name != tt.entry.Releases[i].Name {
					t.Fatalf("release %d is %s, want the first ones kept in order", i, r.Name)
				}
			}
		})
	}
	// The largest prefix that fits: one more release does not.
	got := Fit(many, 8<<10)
	next := got
	next.Releases = many.Releases[:len(got.Releases)+1]
	next.MoreReleases--
	if jsonLen(t, next) <= 8<<10 {
		t.Errorf("kept %d releases, but %d fit", len(got.Releases), len(next.Releases))
	}
}

func TestConfigMapName(t *testing.T) {
	label := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	tests := []struct {
		env  string // the environment's name
		want string // the ConfigMap's name without its hash
	}{
		{env: "dev", want: "digitops-history-dev-"},
		{env: "egov-demo", want: "digitops-history-egov-demo-"},
		{env: "Prod_EU.1", want: "digitops-history-prod-eu-1-"},
		{env: "--a//b--", want: "digitops-history-a-b-"},
		{env: "../../etc/passwd", want: "digitops-history-etc-passwd-"},
		{env: "日本", want: "digitops-history-"},
		{env: "", want: "digitops-history-"},
		{env: strings.Repeat("long-name-", 20), want: "digitops-history-long-name-long-name-long-name-long-na-"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		got := ConfigMapName(tt.env)
		if !label.MatchString(got) || len(got) > 63 {
			t.Errorf("ConfigMapName(%q) = %q: not a DNS label", tt.env, got)
		}
		if !strings.HasPrefix(got, tt.want) || len(got) != len(tt.want)+8 {
			t.Errorf("ConfigMapName(%q) = %q, want %q and 8 hex digits", tt.env, got, tt.want)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("%q and %q share the ConfigMap %s", tt.env, other, got)
		}
		seen[got] = tt.env
	}
	// Names that sanitize alike get different ConfigMaps.
	for _, pair := range [][2]string{{"prod_eu", "prod-eu"}, {"Dev", "dev"}, {"a.b", "a-b"}} {
		if ConfigMapName(pair[0]) == ConfigMapName(pair[1]) {
			t.Errorf("%q and %q share a ConfigMap", pair[0], pair[1])
		}
	}
}

func TestCut(t *testing.T) {
	tests := []struct {
		s    string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"a longer message", 10, "a longe…"},
		{"ééééé", 8, "éé…"}, // never half a character
		{"abc", 2, ""},
	}
	for _, tt := range tests {
		if got := Cut(tt.s, tt.max); got != tt.want || len(got) > tt.max {
			t.Errorf("Cut(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
		}
	}
}

func TestTouching(t *testing.T) {
	entries := []Entry{at(3, "egov-user", "pgr"), at(2, "pgr"), at(1, "egov-user")}
	entries[0].MoreReleases = 4
	got := Touching(entries, "egov-user")
	if minutes(got) != "3,1" {
		t.Fatalf("entries %s, want 3,1", minutes(got))
	}
	for _, e := range got {
		if len(e.Releases) != 1 || e.Releases[0].Name != "egov-user" || e.MoreReleases != 0 {
			t.Errorf("entry %s: releases %+v (+%d), want egov-user alone", e.Started, e.Releases, e.MoreReleases)
		}
	}
	if len(entries[0].Releases) != 2 {
		t.Error("Touching changed its input")
	}
	if got := Touching(entries, "nope"); got == nil || len(got) != 0 {
		t.Errorf("no match: %v, want an empty list", got)
	}
}
