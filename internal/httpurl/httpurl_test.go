package httpurl

import "testing"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		// raw is the URL as configured.
		raw string
		// ok is whether it is accepted.
		ok bool
	}{
		{raw: "https://hooks.example.com/x?a=b", ok: true},
		{raw: "http://prometheus:9090", ok: true},
		{raw: "HTTPS://example.com", ok: true},
		{raw: "ftp://example.com"},
		{raw: "https://"},
		{raw: "/relative/path"},
		{raw: "https://user:pass@example.com"},
		{raw: "https://token@example.com"},
		{raw: "https://example.com/%zz"},
		{raw: ""},
	} {
		if _, ok := Parse(tc.raw); ok != tc.ok {
			t.Errorf("Parse(%q) ok = %v, want %v", tc.raw, ok, tc.ok)
		}
	}
}
