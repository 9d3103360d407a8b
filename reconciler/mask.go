package reconciler

import (
	"crypto/sha256"
	"encoding/hex"
)

// Mask hides a secret value behind a short hash of it.
func Mask(v string) string {
	sum := sha256.Sum256([]byte(v))
	return "(secret sha256:" + hex.EncodeToString(sum[:])[:8] + ")"
}
