package git

import (
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// urlPattern finds URL-looking tokens (scheme://...) in free text, so that
// credentials can be stripped from messages produced by libraries that quote
// the URL they were given.
var urlPattern = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]*://[^\s"'<>\x60]+`)

// SanitizeURL returns rawURL without user information, query string and
// fragment, so that it can be logged or shown. scp-like addresses
// (user@host:path) keep their user name, which is not a secret, and local
// paths are returned unchanged.
func SanitizeURL(rawURL string) string {
	if !strings.Contains(rawURL, "://") {
		return rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return stripByHand(rawURL)
	}
	u.User = nil
	u.RawQuery = ""
	u.ForceQuery = false
	u.Fragment = ""
	u.RawFragment = ""
	return u.String()
}

// stripByHand removes userinfo and query from a URL that net/url refuses to
// parse (a malformed URL may still carry a real password).
func stripByHand(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	authority, path, hasPath := strings.Cut(rest, "/")
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		authority = authority[at+1:]
	}
	if hasPath {
		return scheme + "://" + authority + "/" + path
	}
	return scheme + "://" + authority
}

// sanitizeText strips credentials from every URL found in s and replaces
// each of the known secrets, and its query- and path-escaped forms, with a
// mask. The longest text is replaced first, as internal/redact.Secrets
// does, so that a secret containing another is masked whole rather than
// around the shorter one's mask. (redact.Secrets itself is not used: its
// hash mask and base64 forms are for values, these are credentials in a
// URL, and messages keep their "***".)
func sanitizeText(s string, secrets []string) string {
	s = urlPattern.ReplaceAllStringFunc(s, SanitizeURL)
	var needles []string
	for _, secret := range secrets {
		if len(secret) < 3 { // masking "a" would mangle the message, not protect it
			continue
		}
		needles = append(needles, secret, url.QueryEscape(secret), url.PathEscape(secret))
	}
	slices.SortStableFunc(needles, func(a, b string) int { return len(b) - len(a) })
	for _, n := range needles {
		s = strings.ReplaceAll(s, n, "***")
	}
	return s
}

// SanitizedError is an error whose message has been stripped of credentials.
// It deliberately has no Unwrap method, so the original (unsafe) message
// cannot be reached by errors.As or by printing an unwrapped error; errors.Is
// still works against the original chain, so callers can test for
// context.DeadlineExceeded, ErrUnknownHostKey, ErrAuthFailed and the like.
type SanitizedError struct {
	msg   string
	cause error
}

// Error returns the sanitized message.
func (e *SanitizedError) Error() string { return e.msg }

// Is reports whether the original error chain matches target.
func (e *SanitizedError) Is(target error) bool { return errors.Is(e.cause, target) }

// sanitizeError wraps err in a SanitizedError; nil stays nil and an error that
// is already sanitized is re-sanitized with the given secrets only.
func sanitizeError(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	cause := err
	var se *SanitizedError
	if errors.As(err, &se) {
		cause = se.cause
	}
	return &SanitizedError{msg: sanitizeText(err.Error(), secrets), cause: cause}
}
