package edit

import "testing"

func TestPlainOrQuoted(t *testing.T) {
	tests := []struct {
		// in is the tag; want how it is written.
		in, want string
	}{
		{"v1.2.3", "v1.2.3"},
		{"1.10", `"1.10"`},
		{"3.1.0-a1b2c3d", "3.1.0-a1b2c3d"},
		{"123", `"123"`},
		{"true", `"true"`},
		{"2.0.0", "2.0.0"},
	}
	for _, tt := range tests {
		if got := plainOrQuoted(tt.in); got != tt.want {
			t.Errorf("plainOrQuoted(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
