package git

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// ErrNotGitRepository is returned by New when the URL is a local directory
// that is not a Git repository. Callers that also accept plain directories
// (digitops --repo .) test for it with errors.Is and read the directory
// themselves.
var ErrNotGitRepository = errors.New("not a git repository")

// scpLike matches user@host:path and host:path addresses.
var scpLike = regexp.MustCompile(`^(?:[A-Za-z0-9._~\-]+@)?[A-Za-z0-9.\-]+:[^\\]`)

// localScheme is the private transport scheme under which local repositories
// are served in-process (see transport.go): go-git's own file transport would
// run the git binary.
const localScheme = "digitops-local"

// endpoint is a normalized repository address.
type endpoint struct {
	// url is what go-git dials: the user's URL, or localScheme:///abs/path.
	url string
	// display is the sanitized form shown in snapshots, logs and errors.
	display string
	// local is set for file:// URLs and local paths.
	local bool
	// ssh is set for ssh:// and scp-like addresses.
	ssh bool
	// user is the user name found in the URL, if any.
	user string
	// password is the password found in the URL, if any (masked in errors).
	password string
	// query holds the raw query values of the URL (masked in errors).
	query []string
}

// parseEndpoint classifies rawURL. Local paths must name an existing Git
// repository (bare or not); otherwise ErrNotGitRepository is returned.
func parseEndpoint(rawURL string) (endpoint, error) {
	if rawURL == "" {
		return endpoint{}, errors.New("repository URL is empty")
	}
	if strings.Contains(rawURL, "://") {
		u, err := url.Parse(rawURL)
		if err != nil {
			return endpoint{}, fmt.Errorf("invalid repository URL %q", stripByHand(rawURL))
		}
		ep := endpoint{url: rawURL, display: SanitizeURL(rawURL)}
		if u.User != nil {
			ep.user = u.User.Username()
			ep.password, _ = u.User.Password()
		}
		for _, vs := range u.Query() {
			ep.query = append(ep.query, vs...)
		}
		switch u.Scheme {
		case "https", "http":
		case "ssh":
			ep.ssh = true
		case "file":
			return localEndpoint(u.Path)
		default:
			return endpoint{}, fmt.Errorf("unsupported URL scheme %q in %s", u.Scheme, ep.display)
		}
		return ep, nil
	}
	if _, err := os.Stat(rawURL); err != nil && scpLike.MatchString(rawURL) {
		ep := endpoint{url: rawURL, display: rawURL, ssh: true}
		if user, _, ok := strings.Cut(rawURL, "@"); ok && !strings.Contains(user, ":") {
			ep.user = user
		}
		return ep, nil
	}
	return localEndpoint(rawURL)
}

// localEndpoint checks that path is a Git repository and returns its endpoint.
func localEndpoint(path string) (endpoint, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return endpoint{}, err
	}
	if !isGitDir(abs) && !isGitDir(filepath.Join(abs, ".git")) {
		return endpoint{}, fmt.Errorf("%s: %w", abs, ErrNotGitRepository)
	}
	return endpoint{url: localScheme + "://" + filepath.ToSlash(abs), display: abs, local: true}, nil
}

// isGitDir reports whether dir looks like a Git directory (HEAD, objects and
// refs present), the same test git itself applies.
func isGitDir(dir string) bool {
	for _, name := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}

// cacheKey names the cache directory of the endpoint: it is derived from the
// sanitized URL, so rotating credentials keeps the cache.
func (ep endpoint) cacheKey() string {
	sum := sha256.Sum256([]byte(ep.display))
	return hex.EncodeToString(sum[:])[:16]
}

// secrets lists the credential strings carried by the URL itself.
func (ep endpoint) secrets() []string {
	return append([]string{ep.password}, ep.query...)
}
