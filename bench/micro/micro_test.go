//go:build bench

package micro_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/digitops/digitops/bench/gen"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/loader"
)

// sizes are the environment sizes benchmarked: the default and the N=500
// target of the benchmarks.
var sizes = []int{gen.DefaultServices, 500}

// BenchmarkLoad loads a generated environment of each size, in the digit and
// the helmfile layout.
func BenchmarkLoad(b *testing.B) {
	for _, n := range sizes {
		dir := generate(b, n)
		for _, envName := range []string{gen.DigitEnvironment, gen.HelmfileEnvironment} {
			b.Run(fmt.Sprintf("%s/N=%d", envName, n), func(b *testing.B) {
				var env *manifest.Environment
				b.ReportAllocs()
				for b.Loop() {
					env = load(b, dir, envName)
				}
				reportLive(b, func() { runtime.KeepAlive(env) })
			})
		}
	}
}

// BenchmarkValuesDigest digests every release's values of a generated DIGIT
// environment once, as a plan does: with reconciler.ValuesDigest, and with
// one reconciler.ValuesDigester per operation, as a plan would use one.
func BenchmarkValuesDigest(b *testing.B) {
	for _, n := range sizes {
		env := load(b, generate(b, n), gen.DigitEnvironment)
		for _, way := range []string{"func", "digester"} {
			b.Run(fmt.Sprintf("%s/N=%d", way, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					digest := reconciler.ValuesDigest
					if way == "digester" {
						digest = (&reconciler.ValuesDigester{}).Digest
					}
					for _, r := range env.Releases {
						if d := digest(r.MergedValues()); d == "" {
							b.Fatal("empty digest")
						}
					}
				}
			})
		}
	}
}

func generate(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	if _, err := gen.Generate(context.Background(), gen.Options{Dir: dir, Services: n}); err != nil {
		b.Fatal(err)
	}
	return dir
}

func load(b *testing.B, dir, name string) *manifest.Environment {
	b.Helper()
	env, err := loader.Environment(context.Background(), loader.Options{RepoDir: dir}, name)
	if err != nil {
		b.Fatalf("unable to load environment %q: %v", name, err)
	}
	return env
}

// reportLive reports the heap reachable while keep runs (keep holds the
// result alive), in MiB.
func reportLive(b *testing.B, keep func()) {
	b.StopTimer()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	keep()
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "live-MiB")
}

// BenchmarkRender renders one service release of a generated DIGIT
// environment of each size, offline, as a plan renders an install: the
// environment file every release carries makes one render grow with N.
func BenchmarkRender(b *testing.B) {
	for _, n := range sizes {
		env := load(b, generate(b, n), gen.DigitEnvironment)
		spec := env.Releases[len(env.Releases)-1]
		c, err := reconciler.LocalCharts{}.Load(context.Background(), spec.Chart)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := reconciler.Render(context.Background(), spec, c, reconciler.RenderOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
