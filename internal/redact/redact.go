package redact

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"sort"
	"strings"
)

// Value hides a secret value behind a short hash of it.
func Value(v string) string {
	sum := sha256.Sum256([]byte(v))
	return "(secret sha256:" + hex.EncodeToString(sum[:])[:8] + ")"
}

// Secrets replaces every secret value in s, and its base64 encodings (a
// chart's b64enc, a Secret's data), by a short hash of the value, so that a
// change is still visible and the value is not. Longer strings are replaced
// first, so that a secret inside another (or the encoding of one inside the
// encoding of another) leaves nothing behind. Values under 4 bytes are left:
// they would mask every occurrence of a common word.
func Secrets(s string, secrets []string) string {
	type needle struct{ text, mask string }
	var needles []needle
	for _, v := range secrets {
		if len(v) < 4 {
			continue
		}
		m := Value(v)
		needles = append(needles, needle{v, m},
			needle{base64.StdEncoding.EncodeToString([]byte(v)), m},
			needle{base64.RawStdEncoding.EncodeToString([]byte(v)), m})
	}
	sort.SliceStable(needles, func(i, j int) bool { return len(needles[i].text) > len(needles[j].text) })
	for _, n := range needles {
		if strings.Contains(s, n.text) {
			s = strings.ReplaceAll(s, n.text, n.mask)
		}
	}
	return s
}

// PreviousValues returns the values a deployed release had (deployed, its
// stored values) where the desired values hold a secret (one of secrets)
// and differ: a rotated secret's old value, which a diff of the old
// manifest would otherwise print in clear next to the masked new one.
func PreviousValues(values, deployed map[string]any, secrets []string) []string {
	if len(secrets) == 0 || len(deployed) == 0 {
		return nil
	}
	set := make(map[string]bool, len(secrets))
	for _, s := range secrets {
		set[s] = true
	}
	var out []string
	var walk func(desired, live any)
	walk = func(desired, live any) {
		switch d := desired.(type) {
		case map[string]any:
			if l, ok := live.(map[string]any); ok {
				for k, v := range d {
					walk(v, l[k])
				}
			}
		case []any:
			if l, ok := live.([]any); ok {
				for i := range min(len(d), len(l)) {
					walk(d[i], l[i])
				}
			}
		case string:
			if l, ok := live.(string); ok && set[d] && l != d && l != "" {
				out = append(out, l)
			}
		}
	}
	walk(values, deployed)
	return out
}
