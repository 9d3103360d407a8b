package manifest

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
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

var yamlLine = regexp.MustCompile(`line (\d+)`)

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
