package reconciler

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"maps"
	"reflect"
	"slices"
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

// unencodable is the digest of values that are not JSON-encodable. Values
// come from YAML and always are; this never matches a stored digest.
const unencodable = "unencodable"

// ValuesDigest is a digest of values, independent of map order: the first
// 40 hex characters of the SHA-256 of json.Marshal(values) (encoding/json
// sorts map keys, which makes it canonical). Deployed releases carry it as a
// label, so the same values must always give the same digest: the bytes
// hashed are Marshal's, though they are streamed into the hash rather than
// built in one slice. To digest many values that share subtrees, as a
// DIGIT environment's releases do, use a ValuesDigester.
func ValuesDigest(values map[string]any) string {
	if values == nil {
		values = map[string]any{}
	}
	w := newJSONHashWriter()
	if err := w.value(values); err != nil {
		return unencodable
	}
	return w.sum()
}

// ValuesDigester computes ValuesDigest for many values that share maps
// below their top level, as every release of a DIGIT environment shares the
// environment file: the JSON of a map met for the second time is kept and
// hashed as bytes from then on instead of being encoded again. Maps met only
// once are not kept, so a digester holds about one encoding of what is
// shared. The values must not change while a digester is in use
// (ReleaseSpec.Values never change): use one per plan, then drop it. Not
// safe for concurrent use.
type ValuesDigester struct {
	// seen is every map below a top level met so far, by address. An entry
	// holds its map, so that no other map can take the address while the
	// digester lives.
	seen map[uintptr]*seenMap
}

// seenMap is one map met by a ValuesDigester, and its JSON once it was met
// a second time.
type seenMap struct {
	m    map[string]any
	json []byte
}

// Digest returns ValuesDigest(values).
func (d *ValuesDigester) Digest(values map[string]any) string {
	if d.seen == nil {
		d.seen = map[uintptr]*seenMap{}
	}
	if values == nil {
		values = map[string]any{}
	}
	w := newJSONHashWriter()
	if err := d.object(w, values, false); err != nil {
		return unencodable
	}
	return w.sum()
}

// object writes m's JSON to w, as Marshal would; a map below the top level
// (shared) is looked up in, or added to, what the digester has seen.
func (d *ValuesDigester) object(w *jsonHashWriter, m map[string]any, shared bool) error {
	if m == nil {
		return w.value(m)
	}
	if shared {
		addr := reflect.ValueOf(m).Pointer()
		switch s := d.seen[addr]; {
		case s == nil:
			d.seen[addr] = &seenMap{m: m}
		case s.json != nil:
			w.raw(s.json)
			return nil
		default:
			b, err := json.Marshal(m)
			if err != nil {
				return err
			}
			s.json = b
			w.raw(b)
			return nil
		}
	}
	w.raw([]byte{'{'})
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			w.raw([]byte{','})
		}
		if err := w.value(k); err != nil {
			return err
		}
		w.raw([]byte{':'})
		var err error
		if sub, ok := m[k].(map[string]any); ok {
			err = d.object(w, sub, true)
		} else {
			err = w.value(m[k])
		}
		if err != nil {
			return err
		}
	}
	w.raw([]byte{'}'})
	return nil
}

// jsonHashWriter hashes JSON as it is encoded. It encodes with a
// json.Encoder, which reuses its buffer from one call to the next and
// escapes HTML as Marshal does, but ends every value with a newline that
// Marshal does not write: the hash never gets the last byte written through
// the encoder until more follows, and value drops it.
type jsonHashWriter struct {
	h       hash.Hash
	enc     *json.Encoder
	held    byte
	holding bool
}

func newJSONHashWriter() *jsonHashWriter {
	w := &jsonHashWriter{h: sha256.New()}
	w.enc = json.NewEncoder(encoderSink{w})
	return w
}

// encoderSink is the io.Writer the encoder writes to.
type encoderSink struct{ w *jsonHashWriter }

func (s encoderSink) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	w := s.w
	if w.holding {
		w.h.Write([]byte{w.held})
	}
	w.h.Write(p[:len(p)-1])
	w.held, w.holding = p[len(p)-1], true
	return len(p), nil
}

// value writes v's JSON, exactly as json.Marshal(v) would.
func (w *jsonHashWriter) value(v any) error {
	if err := w.enc.Encode(v); err != nil {
		return err
	}
	if !w.holding || w.held != '\n' {
		return fmt.Errorf("unable to encode values: the JSON encoder ended without its newline")
	}
	w.holding = false
	return nil
}

// raw writes JSON bytes as they are.
func (w *jsonHashWriter) raw(b []byte) { w.h.Write(b) }

// sum returns the digest of what was written.
func (w *jsonHashWriter) sum() string {
	return hex.EncodeToString(w.h.Sum(nil))[:digestLen]
}
