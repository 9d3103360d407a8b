package reconciler_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/strvals"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/source/manifest"
)

// marshalDigest is how ValuesDigest was first computed (and what every
// deployed release's values-digest label holds): the SHA-256 of
// json.Marshal(values), 40 hex characters.
func marshalDigest(t *testing.T, v map[string]any) string {
	t.Helper()
	if v == nil {
		v = map[string]any{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:40]
}

// TestValuesDigest_sameAsMarshal checks that the streamed digest, and the
// digester's, hash exactly json.Marshal's bytes: a changed digest would
// upgrade every deployed release.
func TestValuesDigest_sameAsMarshal(t *testing.T) {
	shared := map[string]any{"a": map[string]any{"b": "<c>"}, "n": float64(1)}
	tests := []struct {
		name string
		// values are digested.
		values map[string]any
	}{
		{name: "nil", values: nil},
		{name: "empty", values: map[string]any{}},
		{name: "HTML-escapable strings", values: map[string]any{"s": "<script>&amp;</script>", "k<&>": "v", "ls": "\u2028\u2029"}},
		{name: "invalid UTF-8 and controls", values: map[string]any{"bad": "\xff\xfe", "ctl": "a\tb\nc\x00\x1f\"\\/"}},
		{name: "numbers", values: map[string]any{"f": 0.1, "big": 1e21, "small": 1e-7, "neg0": math.Copysign(0, -1), "i64": int64(-42), "int": 7, "u": uint8(255), "maxi": int64(math.MaxInt64), "f32": float32(3.14)}},
		{name: "float edges", values: map[string]any{"a": 1e-6, "b": 9.99e-7, "c": 1e20, "d": 1e21, "e": 123456789.125, "f": -1e-7, "g": 5e-324, "h": math.MaxFloat64, "i": -0.0, "j": 1e-10, "k": 2.5e-100, "l": float64(1 << 53), "m": 100.0, "n": -3.0, "o": int64(math.MinInt64), "p": -12}},
		{name: "nil, bools and empty things", values: map[string]any{"nil": nil, "t": true, "f": false, "m": map[string]any{}, "l": []any{}, "nilmap": map[string]any(nil), "nillist": []any(nil)}},
		{name: "key order by bytes", values: map[string]any{"b": 1, "B": 2, "a": 3, "_": 4, "é": 5, "10": 6, "9": 7}},
		{name: "nested maps and lists", values: map[string]any{
			"global":    map[string]any{"domain": "x.example", "deep": map[string]any{"deeper": map[string]any{"v": []any{map[string]any{"z": 1, "a": "<"}, nil, 2.5}}}},
			"egov-user": map[string]any{"heap": "-Xmx192m", "config": map[string]any{"page-size": "20"}},
		}},
		{name: "a map shared under two keys", values: map[string]any{"x": shared, "y": shared, "z": map[string]any{"w": shared}}},
		{name: "long and edge strings", values: map[string]any{"long": strings.Repeat("a<", 5000), "plain": strings.Repeat("x", 10000), "edge": "\x7f~ !#", "big": bigMap(3000)}},
		{name: "other map types", values: map[string]any{"ss": map[string]string{"b": "1", "a": "<"}, "ii": map[string]int{"k": 1}, "strs": []string{"a", "&"}}},
	}
	d := &reconciler.ValuesDigester{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := marshalDigest(t, tt.values)
			if got := reconciler.ValuesDigest(tt.values); got != want {
				t.Errorf("ValuesDigest = %s, want %s (json.Marshal's)", got, want)
			}
			// Three times with one digester: unseen, seen once, cached.
			for i := range 3 {
				if got := d.Digest(tt.values); got != want {
					t.Errorf("ValuesDigester.Digest, call %d = %s, want %s", i+1, got, want)
				}
			}
		})
	}
}

// bigMap returns a map whose JSON is longer than the digest's buffers.
func bigMap(n int) map[string]any {
	m := make(map[string]any, n)
	for i := range n {
		m[fmt.Sprintf("key-%05d", i)] = map[string]any{"v": float64(i), "s": fmt.Sprintf("value <%d>", i)}
	}
	return m
}

// TestValuesDigest_pinned pins one digest as the first implementation wrote
// it, so that a change of the algorithm (or of encoding/json) fails here
// before it relabels a cluster.
func TestValuesDigest_pinned(t *testing.T) {
	v := map[string]any{"name": "egov-user", "image": map[string]any{"tag": "v1.2.3-<a&b>"}, "replicas": float64(2), "list": []any{int64(1), "x", nil, true}}
	const want = "2e221ada3566941c14d87ac53e283889f19461f5"
	if got := reconciler.ValuesDigest(v); got != want {
		t.Errorf("ValuesDigest = %s, want %s", got, want)
	}
	if got := (&reconciler.ValuesDigester{}).Digest(v); got != want {
		t.Errorf("ValuesDigester.Digest = %s, want %s", got, want)
	}
}

// TestValuesDigester_sharedReleases digests the values of releases built the
// way the digit layout builds them (one environment file shared by all, an
// alias file over some, --set on top) and checks every digest against
// json.Marshal's, in two rounds as a plan digests them.
func TestValuesDigester_sharedReleases(t *testing.T) {
	env := map[string]any{"global": map[string]any{"domain": "bench.example", "tz": "Asia/Kolkata"}}
	for i := range 30 {
		env[fmt.Sprintf("svc-%d", i)] = map[string]any{"replicas": float64(1), "config": map[string]any{"page-size": fmt.Sprint(i), "html": "<&>"}}
	}
	alias := map[string]any{"svc-3": map[string]any{"config": map[string]any{"page-size": "99"}}}
	var releases []map[string]any
	for i := range 30 {
		var layers []map[string]any
		if i%5 == 0 {
			layers = append(layers, alias)
		}
		v := manifest.OverlayValues(env, layers...)
		for _, s := range []string{fmt.Sprintf("name=svc-%d", i), "image.tag=v1." + fmt.Sprint(i), "global.tag=x"} {
			key, _, _ := strings.Cut(s, "=")
			manifest.DetachSetKey(v, key)
			if err := strvals.ParseInto(s, v); err != nil {
				t.Fatal(err)
			}
		}
		releases = append(releases, v)
	}
	d := &reconciler.ValuesDigester{}
	for round := range 2 {
		for i, v := range releases {
			want := marshalDigest(t, v)
			if got := d.Digest(v); got != want {
				t.Errorf("round %d, release %d: Digest = %s, want %s", round, i, got, want)
			}
			if got := reconciler.ValuesDigest(v); got != want {
				t.Errorf("round %d, release %d: ValuesDigest = %s, want %s", round, i, got, want)
			}
		}
	}
}

// TestValuesDigest_unencodable checks what values JSON can't hold give.
func TestValuesDigest_unencodable(t *testing.T) {
	v := map[string]any{"a": map[string]any{"nan": math.NaN()}}
	if got := reconciler.ValuesDigest(v); got != "unencodable" {
		t.Errorf("ValuesDigest = %s, want unencodable", got)
	}
	d := &reconciler.ValuesDigester{}
	for i := range 3 {
		if got := d.Digest(v); got != "unencodable" {
			t.Errorf("ValuesDigester.Digest, call %d = %s, want unencodable", i+1, got)
		}
	}
}
