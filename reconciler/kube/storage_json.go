package kube

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// releaseField streams a JSON object from r and returns the raw value of its
// top-level string field key, decoded, without holding the rest of the
// object: every other value is skipped byte by byte through a small buffer,
// so that a release whose values carry a whole DIGIT environment file costs
// its manifest, not its size. It stops reading once the field is found.
// found is false when the object has no such field (or it is null).
//
// It reads any JSON that encoding/json writes (Helm encodes releases with
// it); it checks structure only as far as it needs to find the field, and
// reports malformed or truncated input as an error.
func releaseField(r io.Reader, key string) (value string, found bool, err error) {
	s := jsonScanner{r: r, buf: make([]byte, 32<<10)}
	c, err := s.nonSpace()
	if err != nil {
		return "", false, err
	}
	if c != '{' {
		return "", false, fmt.Errorf("release is not a JSON object (starts with %q)", c)
	}
	for {
		c, err := s.nonSpace()
		if err != nil {
			return "", false, err
		}
		switch c {
		case '}':
			return "", false, nil
		case ',':
			continue
		case '"':
		default:
			return "", false, fmt.Errorf("unexpected %q in release object", c)
		}
		k, err := s.rawString()
		if err != nil {
			return "", false, err
		}
		match, err := jsonKeyIs(k, key)
		if err != nil {
			return "", false, err
		}
		if c, err = s.nonSpace(); err != nil {
			return "", false, err
		}
		if c != ':' {
			return "", false, fmt.Errorf("unexpected %q after a key of the release object", c)
		}
		if c, err = s.nonSpace(); err != nil {
			return "", false, err
		}
		if !match {
			if err := s.skipValue(c); err != nil {
				return "", false, err
			}
			continue
		}
		switch c {
		case 'n':
			return "", false, s.literal("ull")
		case '"':
		default:
			return "", false, fmt.Errorf("field %q of the release is not a string", key)
		}
		raw, err := s.rawString()
		if err != nil {
			return "", false, err
		}
		if bytes.IndexByte(raw, '\\') < 0 {
			return string(raw), true, nil
		}
		// Escapes: let encoding/json decode them (\uXXXX, surrogates).
		quoted := make([]byte, 0, len(raw)+2)
		quoted = append(append(append(quoted, '"'), raw...), '"')
		if err := json.Unmarshal(quoted, &value); err != nil {
			return "", false, fmt.Errorf("unable to decode field %q of the release: %w", key, err)
		}
		return value, true, nil
	}
}

// jsonKeyIs reports whether the raw (still escaped) key equals key.
func jsonKeyIs(raw []byte, key string) (bool, error) {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == key, nil
	}
	var k string
	quoted := append(append(append(make([]byte, 0, len(raw)+2), '"'), raw...), '"')
	if err := json.Unmarshal(quoted, &k); err != nil {
		return false, fmt.Errorf("unable to decode a key of the release: %w", err)
	}
	return k == key, nil
}

// jsonScanner reads JSON tokens from r through buf.
type jsonScanner struct {
	r        io.Reader
	buf      []byte
	pos, end int
	err      error
}

// errTruncated is JSON that ends inside a value.
var errTruncated = errors.New("release JSON is truncated")

// fill reads more input into buf once everything buffered has been used.
func (s *jsonScanner) fill() error {
	if s.pos < s.end {
		return nil
	}
	if s.err != nil {
		return s.err
	}
	for {
		n, err := s.r.Read(s.buf)
		s.pos, s.end = 0, n
		if err == io.EOF {
			err = errTruncated
		}
		if n > 0 {
			s.err = err
			return nil
		}
		if err != nil {
			s.err = err
			return err
		}
	}
}

// next returns the next byte.
func (s *jsonScanner) next() (byte, error) {
	if err := s.fill(); err != nil {
		return 0, err
	}
	c := s.buf[s.pos]
	s.pos++
	return c, nil
}

// nonSpace returns the next byte that is not JSON whitespace.
func (s *jsonScanner) nonSpace() (byte, error) {
	for {
		c, err := s.next()
		if err != nil {
			return 0, err
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c, nil
	}
}

// rawString reads the rest of a string whose opening quote has been read
// and returns its bytes, escapes kept as they are.
func (s *jsonScanner) rawString() ([]byte, error) { return s.string([]byte{}) }

// skipString reads the rest of a string whose opening quote has been read.
func (s *jsonScanner) skipString() error {
	_, err := s.string(nil)
	return err
}

// string reads the rest of a string, appending its raw bytes to dst unless
// dst is nil.
func (s *jsonScanner) string(dst []byte) ([]byte, error) {
	for {
		if err := s.fill(); err != nil {
			return dst, err
		}
		chunk := s.buf[s.pos:s.end]
		i := bytes.IndexAny(chunk, `"\`)
		if i < 0 {
			if dst != nil {
				dst = append(dst, chunk...)
			}
			s.pos = s.end
			continue
		}
		if dst != nil {
			dst = append(dst, chunk[:i]...)
		}
		s.pos += i + 1
		if chunk[i] == '"' {
			return dst, nil
		}
		// A backslash: keep it and the byte it escapes, whichever buffer
		// that byte is in.
		c, err := s.next()
		if err != nil {
			return dst, err
		}
		if dst != nil {
			dst = append(dst, '\\', c)
		}
	}
}

// skipValue skips the value that starts with c (already read).
func (s *jsonScanner) skipValue(c byte) error {
	switch c {
	case '"':
		return s.skipString()
	case '{', '[':
		return s.skipNested()
	case 't':
		return s.literal("rue")
	case 'f':
		return s.literal("alse")
	case 'n':
		return s.literal("ull")
	}
	if c == '-' || c >= '0' && c <= '9' {
		return s.skipNumber()
	}
	return fmt.Errorf("unexpected %q in release JSON", c)
}

// skipNested skips an object or array whose opening bracket has been read,
// up to its matching close.
func (s *jsonScanner) skipNested() error {
	depth := 1
	for depth > 0 {
		if err := s.fill(); err != nil {
			return err
		}
		chunk := s.buf[s.pos:s.end]
		i := bytes.IndexAny(chunk, `"{}[]`)
		if i < 0 {
			s.pos = s.end
			continue
		}
		s.pos += i + 1
		switch chunk[i] {
		case '"':
			if err := s.skipString(); err != nil {
				return err
			}
		case '{', '[':
			depth++
		default:
			depth--
		}
	}
	return nil
}

// skipNumber skips the rest of a number whose first byte has been read.
func (s *jsonScanner) skipNumber() error {
	for {
		if err := s.fill(); err != nil {
			return err
		}
		c := s.buf[s.pos]
		if c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' {
			s.pos++
			continue
		}
		return nil
	}
}

// literal reads the rest of true, false or null.
func (s *jsonScanner) literal(rest string) error {
	for i := 0; i < len(rest); i++ {
		c, err := s.next()
		if err != nil {
			return err
		}
		if c != rest[i] {
			return fmt.Errorf("unexpected %q in a JSON literal", c)
		}
	}
	return nil
}
