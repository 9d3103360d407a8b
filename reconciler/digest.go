package reconciler

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/digitops/digitops/source/manifest"
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
// hashed are Marshal's, byte for byte (digest_test.go proves it), but they
// are written into the hash map by map through a small buffer rather than
// built in one slice, and common types skip encoding/json's reflection. To
// digest many values that share subtrees, as a DIGIT environment's releases
// do, use a ValuesDigester.
func ValuesDigest(values map[string]any) string {
	// A digester that keeps nothing: it still writes maps key by key,
	// which is cheaper than encoding/json's reflection.
	var d ValuesDigester
	return d.digest(values)
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
	return d.digest(values)
}

// digest hashes values' JSON, keeping the shared maps it meets unless seen
// is nil.
func (d *ValuesDigester) digest(values map[string]any) string {
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
// (shared) is looked up in, or added to, what the digester has seen, unless
// it keeps nothing (seen is nil).
func (d *ValuesDigester) object(w *jsonHashWriter, m map[string]any, shared bool) error {
	if m == nil {
		return w.value(m)
	}
	if shared && d.seen != nil {
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
	w.rawByte('{')
	// The sorted keys go on the writer's stack of keys, popped on return.
	start := len(w.keys)
	for k := range m {
		w.keys = append(w.keys, k)
	}
	end := len(w.keys)
	defer func() { w.keys = w.keys[:start] }()
	slices.Sort(w.keys[start:end])
	for i := start; i < end; i++ {
		k := w.keys[i]
		if i > start {
			w.rawByte(',')
		}
		if err := w.str(k); err != nil {
			return err
		}
		w.rawByte(':')
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
	w.rawByte('}')
	return nil
}

// jsonHashWriter hashes JSON as it is encoded, through a small buffer. It
// encodes with a json.Encoder, which reuses its own buffer from one call to
// the next and escapes HTML as Marshal does, but ends every value with a
// newline that Marshal does not write: value drops it.
type jsonHashWriter struct {
	h   hash.Hash
	enc *json.Encoder
	buf []byte
	// keys is a stack of the keys of the maps being written.
	keys []string
}

// Sizes of jsonHashWriter's buffer: it is hashed when it reaches
// flushSize; an encoder's write longer than directSize is hashed without
// being copied into it.
const (
	flushSize  = 8 << 10
	directSize = 4 << 10
)

func newJSONHashWriter() *jsonHashWriter {
	w := &jsonHashWriter{h: sha256.New(), buf: make([]byte, 0, flushSize+directSize)}
	w.enc = json.NewEncoder(encoderSink{w})
	return w
}

// encoderSink is the io.Writer the encoder writes to. The last byte of a
// write always goes to the buffer, so that value can take the newline back.
type encoderSink struct{ w *jsonHashWriter }

func (s encoderSink) Write(p []byte) (int, error) {
	w := s.w
	if len(p) > directSize {
		w.flush()
		w.h.Write(p[:len(p)-1])
		w.buf = append(w.buf, p[len(p)-1])
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// value writes v's JSON, exactly as json.Marshal(v) would.
func (w *jsonHashWriter) value(v any) error {
	switch x := v.(type) {
	case nil:
		w.rawString("null")
		return nil
	case bool:
		if x {
			w.rawString("true")
		} else {
			w.rawString("false")
		}
		return nil
	case string:
		return w.str(x)
	case int64:
		w.buf = strconv.AppendInt(w.buf, x, 10)
		return nil
	case int:
		w.buf = strconv.AppendInt(w.buf, int64(x), 10)
		return nil
	case float64:
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			w.buf = appendFloat(w.buf, x)
			return nil
		}
	}
	return w.encode(v)
}

// appendFloat appends a finite float64 as encoding/json writes it: like
// ES6, the shortest decimal that round-trips, in exponent form below 1e-6
// and from 1e21, with a one-digit negative exponent cleaned of its 0.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// str writes s's JSON, exactly as json.Marshal(s) would.
func (w *jsonHashWriter) str(s string) error {
	if plainString(s) {
		w.buf = append(w.buf, '"')
		w.buf = append(w.buf, s...)
		w.rawByte('"')
		return nil
	}
	return w.encode(s)
}

// encode writes v's JSON with the encoder, without its newline.
func (w *jsonHashWriter) encode(v any) error {
	if err := w.enc.Encode(v); err != nil {
		return err
	}
	n := len(w.buf)
	if n == 0 || w.buf[n-1] != '\n' {
		return fmt.Errorf("unable to encode values: the JSON encoder ended without its newline")
	}
	w.buf = w.buf[:n-1]
	if len(w.buf) >= flushSize {
		w.flush()
	}
	return nil
}

// plainString says whether encoding/json writes s as it is between quotes:
// printable ASCII without '"', '\\' and the HTML characters it escapes.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// rawByte writes one byte of JSON.
func (w *jsonHashWriter) rawByte(c byte) {
	w.buf = append(w.buf, c)
	if len(w.buf) >= flushSize {
		w.flush()
	}
}

// rawString writes a short JSON text.
func (w *jsonHashWriter) rawString(s string) {
	w.buf = append(w.buf, s...)
	if len(w.buf) >= flushSize {
		w.flush()
	}
}

// raw writes JSON bytes as they are.
func (w *jsonHashWriter) raw(b []byte) {
	if len(b) > directSize {
		w.flush()
		w.h.Write(b)
		return
	}
	w.buf = append(w.buf, b...)
	if len(w.buf) >= flushSize {
		w.flush()
	}
}

func (w *jsonHashWriter) flush() {
	w.h.Write(w.buf)
	w.buf = w.buf[:0]
}

// sum returns the digest of what was written.
func (w *jsonHashWriter) sum() string {
	w.flush()
	return hex.EncodeToString(w.h.Sum(nil))[:digestLen]
}

// chartDigestAs is the chart digest of a release: ChartDigest, folded with
// the name its templates see when that is not the release's own, so that
// changing it upgrades the release.
func chartDigestAs(c *chart.Chart, spec manifest.ReleaseSpec) string {
	d := ChartDigest(c)
	if spec.TemplateName == "" || spec.TemplateName == spec.Name {
		return d
	}
	sum := sha256.Sum256([]byte(d + "\x00rendered as:" + spec.TemplateName))
	return hex.EncodeToString(sum[:])[:digestLen]
}
