package manifest

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	goccyyaml "github.com/goccy/go-yaml"
	goccyparser "github.com/goccy/go-yaml/parser"
	"gopkg.in/yaml.v3"

	"github.com/digitops/digitops/internal/yamldepth"
)

// Error is a load error that names the file, and the line and release where
// they are known.
type Error struct {
	// File is the file at fault, as the user named it.
	File string
	// Line is the 1-based line, or 0.
	Line int
	// Release is the release at fault, or empty.
	Release string
	// Msg says what is wrong and, where it can, what to do.
	Msg string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Release != "" {
		b.WriteString(fmt.Sprintf("release %q: ", e.Release))
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Warning is something a layout accepted as the tool it replaces did (the
// DIGIT Go deployer, helmfile) although it is likely a mistake: a chart name
// defined twice, a service listed twice with different tags. It names the
// file, line and release like an Error.
type Warning struct {
	// File is the file at fault, as the user named it.
	File string `json:"file"`
	// Line is the 1-based line, or 0.
	Line int `json:"line,omitempty"`
	// Release is the release concerned, or empty.
	Release string `json:"release,omitempty"`
	// Msg says what was found and what digitops did about it.
	Msg string `json:"message"`
}

// String formats the warning like Error.Error.
func (w Warning) String() string {
	return (&Error{File: w.File, Line: w.Line, Release: w.Release, Msg: w.Msg}).Error()
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// CheckYAML bounds how deeply data nests before any parser reads it: every
// reader of repository YAML calls it first (parsers pay for nesting, one of
// them quadratically). name is the file in errors.
func CheckYAML(data []byte, name string) error {
	var de *yamldepth.Error
	if err := yamldepth.Check(data, yamldepth.Max); errors.As(err, &de) {
		return &Error{File: name, Line: de.Line, Msg: de.Msg()}
	}
	return nil
}

// maxLocate is the largest file whose syntax error the goccy/go-yaml parser
// locates: it costs some 400 bytes of memory per byte of input, and more
// per level of nesting (2 MB of flow sequences 20 deep: 1.1 GB, 10 s).
// DIGIT's environment files are under 100 KiB; a larger file's error
// keeps yaml.v3's line.
const maxLocate = 128 << 10

// yamlSyntaxError turns a yaml.v3 syntax error in data into an Error whose
// line is where the fault is. yaml.v3 reports some faults at the line where
// the enclosing block starts (a list item indented one space too little is
// "line 2: did not find expected '-' indicator" in a 200-line file); the
// goccy/go-yaml parser, used only to locate a fault yaml.v3 already found,
// names the token at fault, in files up to maxLocate. When it finds nothing,
// yaml.v3's report stands.
func yamlSyntaxError(file string, data []byte, err error) error {
	if line, col, b, bad := firstInvalidUTF8(data); bad {
		return &Error{File: file, Line: line, Msg: fmt.Sprintf("not UTF-8 text: byte 0x%02x at column %d (YAML is UTF-8)", b, col)}
	}
	e := yamlError(file, err)
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return e
	}
	if len(data) > maxLocate || CheckYAML(data, file) != nil {
		return e
	}
	_, perr := goccyparser.ParseBytes(data, 0)
	var se *goccyyaml.SyntaxError
	if !errors.As(perr, &se) || se.Token == nil || se.Token.Position == nil || se.Token.Position.Line <= 0 {
		return e
	}
	me := e.(*Error)
	if me.Line == se.Token.Position.Line {
		return me
	}
	me.Msg = fmt.Sprintf("invalid YAML: %s (%s)", se.Message, strings.TrimPrefix(me.Msg, "invalid YAML: "))
	me.Line = se.Token.Position.Line
	return me
}

// yamlError turns a YAML decode error into an Error with its line.
func yamlError(file string, err error) error {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = strings.Join(te.Errors, "; ")
	}
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = yamlLine.ReplaceAllString(msg, "")
	msg = strings.TrimLeft(strings.TrimPrefix(strings.TrimSpace(msg), ":"), " ")
	return &Error{File: file, Line: line, Msg: "invalid YAML: " + msg}
}

// firstInvalidUTF8 finds the first byte of data that is not UTF-8, with
// its line and column (from 1).
func firstInvalidUTF8(data []byte) (line, col int, b byte, bad bool) {
	if utf8.Valid(data) {
		return 0, 0, 0, false
	}
	line, col = 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return line, col, data[i], true
		}
		if r == '\n' {
			line, col = line+1, 0
		}
		col++
		i += size
	}
	return 0, 0, 0, false
}
