package yamldepth

import "fmt"

// Max is the nesting digitops accepts in a repository's YAML: DIGIT's
// environment files and charts nest under 20 levels.
const Max = 1000

// Error is YAML nested deeper than the limit.
type Error struct {
	// Line is the 1-based line where the nesting passes Max.
	Line int
	// Max is the limit that was passed.
	Max int
}

func (e *Error) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg())
}

// Msg is the error without its line, for errors that print the line apart.
func (e *Error) Msg() string {
	return fmt.Sprintf("YAML nested deeper than %d levels", e.Max)
}

// Check returns an *Error when data nests deeper than max levels (flow and
// block collections together); max <= 0 means Max.
func Check(data []byte, max int) error {
	if max <= 0 {
		max = Max
	}
	s := &scanner{data: data, line: 1, max: max}
	return s.run()
}

// scanner walks data token by token, keeping only the levels open.
type scanner struct {
	data []byte
	// i is the next byte; lineStart the first byte of its line; line the
	// 1-based line of i.
	i, lineStart, line int
	// flow is the number of open flow collections.
	flow int
	// indents are the columns of the open block collections.
	indents []int
	// keyCol is the column of the last token that may be a simple key.
	keyCol int
	max    int
}

func (s *scanner) run() error {
	// A byte order mark.
	if len(s.data) >= 3 && s.data[0] == 0xEF && s.data[1] == 0xBB && s.data[2] == 0xBF {
		s.i = 3
		s.lineStart = 3
	}
	for {
		s.skipToToken()
		if s.i >= len(s.data) {
			return nil
		}
		col := s.i - s.lineStart
		if s.flow == 0 {
			s.unroll(col)
		}
		c := s.data[s.i]
		switch {
		case col == 0 && c == '%':
			s.skipLine()
		case col == 0 && s.documentMarker():
			s.indents, s.flow = s.indents[:0], 0
			s.i += 3
		case c == '[' || c == '{':
			if s.flow == 0 {
				s.keyCol = col
			}
			s.flow++
			s.i++
			if err := s.checkDepth(); err != nil {
				return err
			}
		case c == ']' || c == '}':
			if s.flow > 0 {
				s.flow--
			}
			s.i++
		case c == ',':
			s.i++
		case (c == '-' || c == '?') && s.blankAt(s.i+1):
			if s.flow == 0 {
				if err := s.push(col); err != nil {
					return err
				}
			}
			s.i++
		case c == ':' && (s.flow > 0 || s.blankAt(s.i+1)):
			if s.flow == 0 {
				if err := s.push(s.keyCol); err != nil {
					return err
				}
			}
			s.i++
		case c == '&' || c == '*' || c == '!':
			if s.flow == 0 {
				s.keyCol = col
			}
			s.skipWord()
		case (c == '|' || c == '>') && s.flow == 0:
			s.blockScalar()
		case c == '"' || c == '\'':
			s.keyCol = col
			s.quoted(c)
		default:
			s.keyCol = col
			s.plain()
		}
	}
}

// checkDepth fails when the open levels pass the limit.
func (s *scanner) checkDepth() error {
	if len(s.indents)+s.flow > s.max {
		return &Error{Line: s.line, Max: s.max}
	}
	return nil
}

// push opens a block collection at col, when it is more indented than the
// innermost one.
func (s *scanner) push(col int) error {
	if n := len(s.indents); n > 0 && s.indents[n-1] >= col {
		return nil
	}
	s.indents = append(s.indents, col)
	return s.checkDepth()
}

// unroll closes the block collections more indented than col.
func (s *scanner) unroll(col int) {
	for n := len(s.indents); n > 0 && s.indents[n-1] > col; n-- {
		s.indents = s.indents[:n-1]
	}
}

// indent is the column of the innermost block collection, -1 at the top.
func (s *scanner) indent() int {
	if n := len(s.indents); n > 0 {
		return s.indents[n-1]
	}
	return -1
}

// breakLen is the length of the line break at i, 0 if there is none.
// Like libyaml: LF, CR, CR LF, NEL, LS and PS.
func (s *scanner) breakLen(i int) int {
	d := s.data
	if i >= len(d) {
		return 0
	}
	switch d[i] {
	case '\n':
		return 1
	case '\r':
		if i+1 < len(d) && d[i+1] == '\n' {
			return 2
		}
		return 1
	case 0xC2:
		if i+1 < len(d) && d[i+1] == 0x85 {
			return 2
		}
	case 0xE2:
		if i+2 < len(d) && d[i+1] == 0x80 && (d[i+2] == 0xA8 || d[i+2] == 0xA9) {
			return 3
		}
	}
	return 0
}

// newline consumes the line break at i.
func (s *scanner) newline(n int) {
	s.i += n
	s.lineStart = s.i
	s.line++
}

// blankAt reports whether i is past the end, a space, a tab or a break.
func (s *scanner) blankAt(i int) bool {
	return i >= len(s.data) || s.data[i] == ' ' || s.data[i] == '\t' || s.breakLen(i) > 0
}

// skipToToken skips blanks, line breaks and comments.
func (s *scanner) skipToToken() {
	for s.i < len(s.data) {
		switch c := s.data[s.i]; {
		case c == ' ' || c == '\t':
			s.i++
		case c == '#':
			s.skipLine()
		default:
			n := s.breakLen(s.i)
			if n == 0 {
				return
			}
			s.newline(n)
		}
	}
}

// skipLine moves i to the line break ending the line (or the end).
func (s *scanner) skipLine() {
	for s.i < len(s.data) && s.breakLen(s.i) == 0 {
		s.i++
	}
}

// skipWord skips an anchor, alias or tag: up to a blank, or in a flow
// collection, a flow indicator.
func (s *scanner) skipWord() {
	for s.i < len(s.data) && !s.blankAt(s.i) {
		if s.flow > 0 && isFlowIndicator(s.data[s.i]) {
			return
		}
		s.i++
	}
}

func isFlowIndicator(c byte) bool {
	return c == ',' || c == '[' || c == ']' || c == '{' || c == '}'
}

// documentMarker reports whether i (at column 0) starts --- or ... and a
// blank.
func (s *scanner) documentMarker() bool {
	d := s.data[s.i:]
	return len(d) >= 3 && (string(d[:3]) == "---" || string(d[:3]) == "...") && s.blankAt(s.i+3)
}

// quoted skips a single- or double-quoted scalar, line breaks included.
func (s *scanner) quoted(q byte) {
	s.i++
	for s.i < len(s.data) {
		c := s.data[s.i]
		if n := s.breakLen(s.i); n > 0 {
			s.newline(n)
			if s.documentMarker() {
				return
			}
			continue
		}
		switch {
		case q == '\'' && c == '\'' && s.i+1 < len(s.data) && s.data[s.i+1] == '\'':
			s.i += 2
		case c == q:
			s.i++
			return
		case q == '"' && c == '\\':
			s.i++
			if n := s.breakLen(s.i); n > 0 {
				s.newline(n)
			} else if s.i < len(s.data) {
				s.i++
			}
		default:
			s.i++
		}
	}
}

// plain skips a plain scalar, over several lines while they are more
// indented than the innermost block collection (libyaml's
// scan_plain_scalar).
func (s *scanner) plain() {
	minCol := s.indent() + 1
	for {
		// A run of non-blank characters.
		for s.i < len(s.data) && !s.blankAt(s.i) {
			c := s.data[s.i]
			if c == ':' && (s.blankAt(s.i+1) || (s.flow > 0 && s.i+1 < len(s.data) && isFlowIndicator(s.data[s.i+1]))) {
				return
			}
			if s.flow > 0 && isFlowIndicator(c) {
				return
			}
			s.i++
		}
		// Blanks and breaks, then the scalar goes on if what follows is
		// more indented.
		broke := false
		for s.i < len(s.data) {
			if c := s.data[s.i]; c == ' ' || c == '\t' {
				s.i++
				continue
			}
			n := s.breakLen(s.i)
			if n == 0 {
				break
			}
			s.newline(n)
			broke = true
		}
		if s.i >= len(s.data) || s.data[s.i] == '#' {
			return
		}
		if broke {
			col := s.i - s.lineStart
			if (s.flow == 0 && col < minCol) || (col == 0 && s.documentMarker()) {
				return
			}
		}
	}
}

// blockScalar skips a literal or folded scalar: its header, then the lines
// indented at least as much as its first line (libyaml's
// scan_block_scalar).
func (s *scanner) blockScalar() {
	s.i++
	increment := 0
	for k := 0; k < 2 && s.i < len(s.data); k++ {
		switch c := s.data[s.i]; {
		case c == '+' || c == '-':
			s.i++
		case c >= '1' && c <= '9':
			increment = int(c - '0')
			s.i++
		}
	}
	s.skipLine()
	n := s.breakLen(s.i)
	if n == 0 {
		return
	}
	s.newline(n)
	parent := s.indent()
	indent := 0
	if increment > 0 {
		indent = increment
		if parent >= 0 {
			indent = parent + increment
		}
	}
	// Leading empty lines, and the first line's indentation when the
	// header does not give it.
	maxCol := 0
	for {
		for s.i < len(s.data) && s.data[s.i] == ' ' && (indent == 0 || s.i-s.lineStart < indent) {
			s.i++
		}
		if col := s.i - s.lineStart; col > maxCol {
			maxCol = col
		}
		n := s.breakLen(s.i)
		if n == 0 {
			break
		}
		s.newline(n)
	}
	if indent == 0 {
		indent = max(maxCol, parent+1, 1)
	}
	// Content lines, at indent, and empty lines between them.
	for s.i < len(s.data) && s.i-s.lineStart == indent {
		s.skipLine()
		for {
			n := s.breakLen(s.i)
			if n == 0 {
				break
			}
			s.newline(n)
			for s.i < len(s.data) && s.data[s.i] == ' ' && s.i-s.lineStart < indent {
				s.i++
			}
		}
	}
}
