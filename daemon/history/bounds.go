package history

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// Bounds of a ring.
const (
	// MaxEntries is how many entries a ring keeps.
	MaxEntries = 100
	// MaxBytes bounds the JSON of a ring's entries: half the 1 MiB a
	// ConfigMap may hold, leaving room for its metadata and
	// managedFields.
	MaxBytes = 512 << 10
	// MaxEntryBytes bounds one entry's JSON (see Fit), so that a ring
	// holds at least MaxBytes/MaxEntryBytes entries whatever the syncs
	// did.
	MaxEntryBytes = 32 << 10
)

// Fit returns e with its JSON within max bytes: the releases that do not
// fit are dropped from the end and counted in MoreReleases.
func Fit(e Entry, max int) Entry {
	if size(e) <= max {
		return e
	}
	all, more := e.Releases, e.MoreReleases
	with := func(n int) Entry {
		e.Releases, e.MoreReleases = all[:n:n], more+len(all)-n
		if n == 0 {
			e.Releases = nil
		}
		return e
	}
	// The longest prefix of the releases that fits: lo fits (or is 0),
	// hi does not.
	lo, hi := 0, len(all)
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if size(with(mid)) <= max {
			lo = mid
		} else {
			hi = mid
		}
	}
	return with(lo)
}

// Bound returns the newest entries of entries (oldest first) that fit in
// maxEntries and maxBytes of JSON, oldest first.
func Bound(entries []Entry, maxEntries, maxBytes int) []Entry {
	used, first := len("[]"), len(entries)
	for i := len(entries) - 1; i >= 0 && len(entries)-i <= maxEntries; i-- {
		n := size(entries[i])
		if i < len(entries)-1 {
			n++ // the comma
		}
		if used+n > maxBytes {
			break
		}
		used += n
		first = i
	}
	return entries[first:]
}

// Merge returns the entries of lists (each oldest first) in one list,
// oldest first by start time, without duplicates (the same start time,
// trigger and revision). Entries that started at the same time keep the
// order of lists.
func Merge(lists ...[]Entry) []Entry {
	var out []Entry
	seen := map[string]bool{}
	for _, l := range lists {
		for _, e := range l {
			if k := e.key(); !seen[k] {
				seen[k] = true
				out = append(out, e)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Entry) int { return a.Started.Compare(b.Started) })
	return out
}

// Prefix starts the name of every history ConfigMap.
const Prefix = "digitops-history-"

// maxNamePart is how much of the environment's name a ConfigMap name
// keeps: the name stays a DNS label (63 characters) with the prefix, a
// dash and the hash.
const maxNamePart = 63 - len(Prefix) - 1 - hashLen

const hashLen = 8

// ConfigMapName is the name of the ConfigMap of an environment's history:
// Prefix, the environment's name in lower case with every run of other
// characters than letters and digits made one dash, cut to keep the name
// a DNS label, and the first 8 hex digits of the SHA-256 of the whole
// name, so that names that sanitize alike get different ConfigMaps.
func ConfigMapName(environment string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(environment) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(c)
			dash = false
			continue
		}
		dash = true
	}
	part := b.String()
	if len(part) > maxNamePart {
		part = strings.TrimRight(part[:maxNamePart], "-")
	}
	sum := sha256.Sum256([]byte(environment))
	hash := hex.EncodeToString(sum[:])[:hashLen]
	if part == "" {
		return Prefix + hash
	}
	return Prefix + part + "-" + hash
}
