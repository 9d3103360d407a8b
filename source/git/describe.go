package git

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-git/go-git/v5/plumbing/object"
)

// Bounds of what a snapshot keeps of a commit's description: its author's
// name and its subject are written by whoever pushes, shown in the status
// and the console, and must stay one short line.
const (
	maxAuthorRunes  = 100
	maxSubjectRunes = 200
)

// describe sets snap's Author and Subject from co.
func describe(snap *Snapshot, co *object.Commit) {
	snap.Author = oneLine(co.Author.Name, maxAuthorRunes)
	snap.Subject = oneLine(subjectOf(co.Message), maxSubjectRunes)
}

// subjectOf is a commit message's subject, as git shows it: its first
// paragraph's lines joined by spaces.
func subjectOf(msg string) string {
	msg = strings.TrimLeft(msg, "\r\n")
	if i := strings.Index(msg, "\n\n"); i >= 0 {
		msg = msg[:i]
	}
	return strings.Join(strings.Fields(msg), " ")
}

// oneLine is s without control characters or invalid UTF-8, its spaces
// collapsed, cut at max runes ("…" marks a cut).
func oneLine(s string, max int) string {
	s = strings.Join(strings.FieldsFunc(strings.ToValidUTF8(s, "\uFFFD"), unicode.IsSpace), " ")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	runes := []rune(s)[:max-1]
	return strings.TrimRight(string(runes), " ") + "…"
}
