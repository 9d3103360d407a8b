package reconciler

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"sort"

	"helm.sh/helm/v3/pkg/chart"
)

// digestLen is the number of hex characters kept: it fits a label value.
const digestLen = 40

// ChartDigest is a digest of everything in a chart that can change what it
// renders: every file as loaded, and its dependencies, recursively.
func ChartDigest(c *chart.Chart) string {
	h := sha256.New()
	writeChart(h, c)
	return hex.EncodeToString(h.Sum(nil))[:digestLen]
}

func writeChart(h hash.Hash, c *chart.Chart) {
	files := make([]*chart.File, 0, len(c.Raw))
	files = append(files, c.Raw...)
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	for _, f := range files {
		h.Write([]byte(f.Name))
		h.Write([]byte{0})
		h.Write(f.Data)
		h.Write([]byte{0})
	}
	deps := append([]*chart.Chart(nil), c.Dependencies()...)
	sort.Slice(deps, func(i, j int) bool { return deps[i].Name() < deps[j].Name() })
	for _, d := range deps {
		h.Write([]byte("dependency:" + d.Name() + "\x00"))
		writeChart(h, d)
	}
}

// ValuesDigest is a digest of values, independent of map order.
func ValuesDigest(values map[string]any) string {
	if values == nil {
		values = map[string]any{}
	}
	// encoding/json sorts map keys, which makes this canonical.
	b, err := json.Marshal(values)
	if err != nil {
		// Values come from YAML and are always JSON-encodable; fall back to
		// something that never matches a stored digest.
		return "unencodable"
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:digestLen]
}
