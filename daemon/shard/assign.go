package shard

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"slices"
	"sort"
)

// LoadBound is how far above the fair share (environments / members) a
// member's load may go before environments spill to their next choice:
// the most loaded member owns at most ⌈LoadBound × fair share⌉.
const LoadBound = 1.25

// Assign maps each environment name to one of members (an empty map when
// there are none). It is pure: the same names and members give the same
// map on every replica, whatever their order. Members and names are
// deduplicated.
func Assign(names, members []string) map[string]string {
	out := make(map[string]string, len(names))
	ms := dedupe(members)
	if len(ms) == 0 {
		return out
	}
	ns := dedupe(names)
	limit := int(math.Ceil(float64(len(ns)) / float64(len(ms)) * LoadBound))
	// The names that prefer their first choice most strongly are placed
	// first: a spill then moves the weakest preferences, which keeps the
	// environments moved by a join or a leave near the 1/N of plain
	// rendezvous hashing.
	choices := make(map[string][]string, len(ns))
	first := make(map[string]uint64, len(ns))
	for _, n := range ns {
		choices[n] = ranked(n, ms)
		first[n] = score(choices[n][0], n)
	}
	sort.SliceStable(ns, func(i, j int) bool { return first[ns[i]] > first[ns[j]] })
	load := make(map[string]int, len(ms))
	for _, n := range ns {
		for _, m := range choices[n] {
			if load[m] < limit {
				load[m]++
				out[n] = m
				break
			}
		}
	}
	return out
}

// ranked orders members by their score for name, highest first (ties, which
// need a hash collision, by member name).
func ranked(name string, members []string) []string {
	type scored struct {
		member string
		score  uint64
	}
	s := make([]scored, len(members))
	for i, m := range members {
		s[i] = scored{m, score(m, name)}
	}
	sort.Slice(s, func(i, j int) bool {
		if s[i].score != s[j].score {
			return s[i].score > s[j].score
		}
		return s[i].member < s[j].member
	})
	out := make([]string, len(s))
	for i := range s {
		out[i] = s[i].member
	}
	return out
}

// score is member's weight for name: the first 8 bytes of SHA-256 of both
// (a NUL between them, so that "a"+"bc" and "ab"+"c" differ).
func score(member, name string) uint64 {
	h := sha256.Sum256([]byte(member + "\x00" + name))
	return binary.BigEndian.Uint64(h[:8])
}

// dedupe returns the sorted distinct non-empty values of in.
func dedupe(in []string) []string {
	out := make([]string, 0, len(in))
	for _, v := range in {
		if v != "" {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
