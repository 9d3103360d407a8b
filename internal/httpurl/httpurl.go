package httpurl

import "net/url"

// Parse parses raw and reports whether it is an http or https URL with a
// host and no user information. u is nil when raw does not parse.
func Parse(raw string) (u *url.URL, ok bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, false
	}
	return u, (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil
}
