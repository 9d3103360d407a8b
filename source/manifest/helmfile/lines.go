package helmfile

import (
	"sort"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
)

// Lines of a rendered template, mapped back to the template.
//
// A template's output does not keep the template's lines: one action such
// as {{ .Values | toYaml | nindent 8 }} writes hundreds of lines where the
// template has one, so a YAML node's line in the output is not a line the
// user wrote. Before executing a template, the renderer marks its literal
// text (and that of the templates it defines) with the template line that
// each text and each line of text starts on; after executing, it strips the
// marks and keeps, for each output line, the line of the last mark before
// the line's first byte: the line of the text that wrote it, or of the
// action that did.

// lineMark starts a mark; the decimal line and markEnd follow. NUL bytes do
// not occur in a helmfile (YAML forbids them), so a mark cannot be taken for
// the user's text.
const (
	lineMark = "\x00digitops-line:"
	markEnd  = "\x00"
)

// linePos maps a line of a template (1-based) to the line of the file it
// is written in, or 0 when that line cannot be told.
type linePos func(tmplLine int) int

// offsetLines is the linePos of a template that starts on line off+1 of its
// file and keeps its lines: a part of a helmfile, a .gotmpl file, a literal
// block scalar.
func offsetLines(off int) linePos {
	return func(l int) int {
		if l <= 0 {
			return 0
		}
		return l + off
	}
}

// atLine is the linePos of a template whose every line is reported as
// line n: a value written on line n whose own lines are not the file's
// (a quoted or folded scalar, a serialized mapping).
func atLine(n int) linePos {
	return func(int) int { return n }
}

// markLines adds marks to the literal text of t and of every template
// associated with it; text is the source t was parsed from.
func markLines(t *template.Template, text string) {
	nl := newlines(text)
	for _, tt := range t.Templates() {
		if tt.Tree != nil && tt.Tree.Root != nil {
			markNode(tt.Tree.Root, nl)
		}
	}
}

// newlines returns the offsets of the newlines of text, in order.
func newlines(text string) []int {
	var out []int
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' {
			out = append(out, i)
		}
	}
	return out
}

// lineOf returns the 1-based line of the byte at pos, given the offsets of
// the newlines of the text.
func lineOf(nl []int, pos int) int {
	return 1 + sort.SearchInts(nl, pos)
}

func markNode(n parse.Node, nl []int) {
	switch x := n.(type) {
	case *parse.ListNode:
		if x == nil {
			return
		}
		for _, c := range x.Nodes {
			markNode(c, nl)
		}
	case *parse.TextNode:
		x.Text = markText(x.Text, int(x.Pos), nl)
	case *parse.IfNode:
		markNode(x.List, nl)
		markNode(x.ElseList, nl)
	case *parse.RangeNode:
		markNode(x.List, nl)
		markNode(x.ElseList, nl)
	case *parse.WithNode:
		markNode(x.List, nl)
		markNode(x.ElseList, nl)
	}
}

// markText returns text, which starts at byte pos of the template, with the
// mark of its first line before it and the mark of the next line after each
// of its newlines.
func markText(text []byte, pos int, nl []int) []byte {
	line := lineOf(nl, pos)
	out := make([]byte, 0, len(text)+len(lineMark)+8)
	out = appendMark(out, line)
	for _, b := range text {
		out = append(out, b)
		if b == '\n' {
			line++
			out = appendMark(out, line)
		}
	}
	return out
}

func appendMark(b []byte, line int) []byte {
	b = append(b, lineMark...)
	b = strconv.AppendInt(b, int64(line), 10)
	return append(b, markEnd...)
}

// unmarkLines removes the marks from out. It returns the output as the
// template would have written it unmarked and, for each of its lines, the
// template line that wrote it (line 1 before any mark).
func unmarkLines(out string) (string, []int) {
	var b strings.Builder
	b.Grow(len(out))
	cur := 1
	lines := make([]int, 0, strings.Count(out, "\n")+1)
	started := false // the current output line has its template line
	for len(out) > 0 {
		if n, rest, ok := cutMark(out); ok {
			cur, out = n, rest
			continue
		}
		i := strings.IndexByte(out[1:], 0) + 1 // the next NUL, or 0
		if i == 0 {
			i = len(out)
		}
		chunk := out[:i]
		out = out[i:]
		for len(chunk) > 0 {
			if !started {
				lines, started = append(lines, cur), true
			}
			j := strings.IndexByte(chunk, '\n')
			if j < 0 {
				b.WriteString(chunk)
				break
			}
			b.WriteString(chunk[:j+1])
			chunk = chunk[j+1:]
			started = false
		}
	}
	if !started {
		lines = append(lines, cur)
	}
	return b.String(), lines
}

// cutMark reads the mark that out starts with, if it does.
func cutMark(out string) (line int, rest string, ok bool) {
	s, found := strings.CutPrefix(out, lineMark)
	if !found {
		return 0, out, false
	}
	num, rest, found := strings.Cut(s, markEnd)
	n, err := strconv.Atoi(num)
	if !found || err != nil {
		return 0, out, false
	}
	return n, rest, true
}

// mapLine returns the file line of line n of an output whose lines are
// lines, or 0 when n is out of range.
func mapLine(lines []int, n int) int {
	if n < 1 || n > len(lines) {
		return 0
	}
	return lines[n-1]
}
