package reconciler

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Mask hides a secret value behind a short hash of it.
func Mask(v string) string {
	sum := sha256.Sum256([]byte(v))
	return "(secret sha256:" + hex.EncodeToString(sum[:])[:8] + ")"
}

// MaskSecrets replaces every secret value in s, and its base64 encoding (a
// chart's b64enc, a Secret's data), by a short hash, so that a change is
// still visible and the value is not. Values under 4 bytes are left: they
// would mask every occurrence of a common word.
func MaskSecrets(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) < 4 {
			continue
		}
		s = strings.ReplaceAll(s, v, Mask(v))
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
			if b := enc.EncodeToString([]byte(v)); strings.Contains(s, b) {
				s = strings.ReplaceAll(s, b, Mask(v))
			}
		}
	}
	return s
}

// PreviousSecrets returns the values a deployed release had (deployed, its
// stored values) where the desired values hold a secret (one of secrets)
// and differ: a rotated secret's old value, which a diff of the old
// manifest would otherwise print in clear next to the masked new one.
func PreviousSecrets(values, deployed map[string]any, secrets []string) []string {
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
