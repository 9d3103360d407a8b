package git

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSubjectOf(t *testing.T) {
	for _, tc := range []struct{ msg, want string }{
		{"deploy egov-user 1.2\n\nbody text\n", "deploy egov-user 1.2"},
		{"\n\nleading blank lines\n", "leading blank lines"},
		{"a subject\nwrapped on two lines\n\nbody", "a subject wrapped on two lines"},
		{"", ""},
		{"tabs\tand  spaces", "tabs and spaces"},
	} {
		if got := subjectOf(tc.msg); got != tc.want {
			t.Errorf("subjectOf(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}

func TestOneLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 10, "plain"},
		{"bell\a and \x1b[31mred", 50, "bell and [31mred"},
		{"bidi \u202eevil\u202c", 50, "bidi evil"},
		{"bad \xff utf8", 50, "bad \uFFFD utf8"},
		{"0123456789", 10, "0123456789"},
		{"0123456789a", 10, "012345678…"},
		{"word word word", 6, "word…"},
		{"äöüäöüäöü", 4, "äöü…"},
	} {
		got := oneLine(tc.in, tc.max)
		if got != tc.want {
			t.Errorf("oneLine(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
		if n := utf8.RuneCountInString(got); n > tc.max {
			t.Errorf("oneLine(%q, %d) has %d runes", tc.in, tc.max, n)
		}
	}
	long := strings.Repeat("x", 10_000)
	if got := oneLine(long, maxSubjectRunes); utf8.RuneCountInString(got) != maxSubjectRunes {
		t.Errorf("a long subject is cut to %d runes, want %d", utf8.RuneCountInString(got), maxSubjectRunes)
	}
}
