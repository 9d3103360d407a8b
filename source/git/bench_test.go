package git

import (
	"context"
	"testing"
)

// BenchmarkFetch_unchanged is the cost of a poll that finds nothing new:
// one ls-remote against a local HTTP Git server (a remote adds its round
// trip), and the Snapshot of the commit already checked out. It is what
// every environment pays per interval without webhooks (see the default
// interval in daemon/doc.go and docs/benchmarks.md).
func BenchmarkFetch_unchanged(b *testing.B) {
	s := startHTTP(b, "", "")
	up, url := s.repo(b, "org/envs.git")
	files := map[string]string{}
	for i := range 200 {
		files["deploy-as-code/helm/charts/svc"+string(rune('a'+i%26))+"/values.yaml"] = "replicas: 1\n"
	}
	up.commit("environment", files, nil)
	c, err := New(Options{URL: url, CacheDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	snap, _, err := c.Fetch(ctx, "")
	if err != nil {
		b.Fatal(err)
	}
	s.counts()
	b.ResetTimer()
	for b.Loop() {
		if _, changed, err := c.Fetch(ctx, snap.Revision); err != nil || changed {
			b.Fatalf("unchanged poll: changed %v, %v", changed, err)
		}
	}
	b.StopTimer()
	refs, packs := s.counts()
	b.ReportMetric(float64(refs)/float64(b.N), "ls-remote/op")
	b.ReportMetric(float64(packs)/float64(b.N), "fetches/op")
}
