package daemon

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/digitops/digitops/source/git"
)

// push is what a receiver reads from a webhook: which repository moved and
// which reference.
type push struct {
	// URLs are the repository's addresses (clone, ssh, web).
	URLs []string
	// Ref is the full reference name that moved (refs/heads/main).
	Ref string
	// DefaultBranch is the repository's default branch, when the payload says.
	DefaultBranch string
}

// receiver is one webhook flavour.
type receiver struct {
	name string
	// secret returns the configured secret; "" disables the receiver.
	secret func(WebhookSecrets) string
	// verify checks the request's signature or token against secret.
	verify func(r *http.Request, body []byte, secret string) bool
	// parse reads the push; ok false means an event that is not a push.
	parse func(r *http.Request, body []byte) (p push, ok bool, err error)
}

var receivers = []receiver{
	{
		name:   "github",
		secret: func(s WebhookSecrets) string { return s.GitHub },
		verify: func(r *http.Request, body []byte, secret string) bool {
			return validHMAC(r.Header.Get("X-Hub-Signature-256"), body, secret)
		},
		parse: parseGitHub,
	},
	{
		name:   "gitlab",
		secret: func(s WebhookSecrets) string { return s.GitLab },
		verify: func(r *http.Request, _ []byte, secret string) bool {
			got := r.Header.Get("X-Gitlab-Token")
			return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(secret)) == 1
		},
		parse: parseGitLab,
	},
	{
		name:   "generic",
		secret: func(s WebhookSecrets) string { return s.Generic },
		verify: func(r *http.Request, body []byte, secret string) bool {
			return validHMAC(r.Header.Get("X-Signature-256"), body, secret)
		},
		parse: parseGeneric,
	},
}

// validHMAC checks a "sha256=<hex>" signature of body.
func validHMAC(header string, body []byte, secret string) bool {
	sig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// Sign returns the "sha256=<hex>" HMAC signature of body, as GitHub sends
// in X-Hub-Signature-256 and the generic receiver expects in X-Signature-256.
func Sign(body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func parseGitHub(r *http.Request, body []byte) (push, bool, error) {
	switch r.Header.Get("X-GitHub-Event") {
	case "push":
	default:
		return push{}, false, nil
	}
	var p struct {
		Ref        string `json:"ref"`
		Repository struct {
			CloneURL      string `json:"clone_url"`
			SSHURL        string `json:"ssh_url"`
			GitURL        string `json:"git_url"`
			HTMLURL       string `json:"html_url"`
			DefaultBranch string `json:"default_branch"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return push{}, false, err
	}
	rp := p.Repository
	return push{URLs: []string{rp.CloneURL, rp.SSHURL, rp.GitURL, rp.HTMLURL}, Ref: p.Ref, DefaultBranch: rp.DefaultBranch}, true, nil
}

func parseGitLab(r *http.Request, body []byte) (push, bool, error) {
	switch r.Header.Get("X-Gitlab-Event") {
	case "Push Hook", "Tag Push Hook":
	default:
		return push{}, false, nil
	}
	var p struct {
		Ref     string `json:"ref"`
		Project struct {
			HTTPURL       string `json:"git_http_url"`
			SSHURL        string `json:"git_ssh_url"`
			WebURL        string `json:"web_url"`
			DefaultBranch string `json:"default_branch"`
		} `json:"project"`
		Repository struct {
			HTTPURL string `json:"git_http_url"`
			SSHURL  string `json:"git_ssh_url"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return push{}, false, err
	}
	urls := []string{p.Project.HTTPURL, p.Project.SSHURL, p.Project.WebURL, p.Repository.HTTPURL, p.Repository.SSHURL}
	return push{URLs: urls, Ref: p.Ref, DefaultBranch: p.Project.DefaultBranch}, true, nil
}

// parseGeneric reads {"repository": URL, "ref": "refs/heads/main"}; an
// empty ref matches any reference of the repository.
func parseGeneric(_ *http.Request, body []byte) (push, bool, error) {
	var p struct {
		Repository string `json:"repository"`
		Ref        string `json:"ref"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return push{}, false, err
	}
	if p.Repository == "" {
		return push{}, false, errors.New(`"repository" is required`)
	}
	return push{URLs: []string{p.Repository}, Ref: p.Ref}, true, nil
}

// hookHandler serves one receiver.
func (d *Daemon) hookHandler(rc receiver) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secret := rc.secret(d.opts.Webhooks)
		if secret == "" {
			http.Error(w, "webhook receiver "+rc.name+" is not configured", http.StatusNotFound)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		case err != nil:
			http.Error(w, "unable to read body", http.StatusBadRequest)
			return
		}
		if !rc.verify(r, body, secret) {
			d.log.Warn("webhook refused: bad signature", "receiver", rc.name, "remote", r.RemoteAddr)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if id := deliveryID(r); id != "" && !d.deliveries.first(rc.name+"/"+id, time.Now()) {
			d.log.Info("webhook delivery already seen; ignored", "receiver", rc.name, "delivery", id)
			writeJSON(w, http.StatusOK, map[string]any{"triggered": []string{}, "message": "delivery already received; ignored"})
			return
		}
		p, isPush, err := rc.parse(r, body)
		if err != nil {
			http.Error(w, "unable to parse payload: "+err.Error(), http.StatusBadRequest)
			return
		}
		if !isPush {
			writeJSON(w, http.StatusOK, map[string]any{"triggered": []string{}, "message": "not a push event; ignored"})
			return
		}
		triggered, matched := []string{}, 0
		for _, s := range d.sources {
			if !s.matches(p) {
				continue
			}
			matched++
			s.trigger(d.opts.Debounce)
			s.mu.Lock()
			triggered = append(triggered, s.names...)
			s.mu.Unlock()
		}
		d.log.Info("webhook push", "receiver", rc.name, "ref", p.Ref, "triggered", triggered)
		code := http.StatusAccepted
		if matched == 0 {
			code = http.StatusOK
		}
		writeJSON(w, code, map[string]any{"sources": matched, "triggered": triggered})
	}
}

// matches reports whether a push moved the repository and reference the
// source watches. A source pinned to a commit is never moved by a push.
func (s *source) matches(p push) bool {
	want := normalizeURL(s.opts.URL)
	found := false
	for _, u := range p.URLs {
		if u != "" && normalizeURL(u) == want {
			found = true
			break
		}
	}
	if !found {
		return false
	}
	if p.Ref == "" {
		return true
	}
	ref := git.ParseRef(s.opts.Ref)
	switch {
	case ref.Commit != "" && ref.Branch == "":
		return false
	case ref.Branch != "":
		return p.Ref == "refs/heads/"+ref.Branch
	case ref.Name != "":
		if strings.HasPrefix(ref.Name, "refs/") {
			return p.Ref == ref.Name
		}
		return p.Ref == "refs/heads/"+ref.Name || p.Ref == "refs/tags/"+ref.Name
	case ref.Tag != "", ref.SemVer != "":
		return strings.HasPrefix(p.Ref, "refs/tags/")
	case p.DefaultBranch != "":
		return p.Ref == "refs/heads/"+p.DefaultBranch
	}
	return strings.HasPrefix(p.Ref, "refs/heads/")
}

var scpAddress = regexp.MustCompile(`^(?:[A-Za-z0-9._~\-]+@)?([A-Za-z0-9.\-]+):(.+)$`)

// normalizeURL reduces a repository address to host/path (lower case,
// without scheme, credentials, port, trailing slash or .git), or to a clean
// absolute path for a local repository, so that the clone, SSH and web
// addresses of one repository compare equal.
func normalizeURL(raw string) string {
	raw = strings.TrimSpace(raw)
	if strings.Contains(raw, "://") {
		u, err := url.Parse(raw)
		if err != nil {
			return raw
		}
		if u.Scheme == "file" {
			return filepath.Clean(u.Path)
		}
		return strings.ToLower(u.Hostname() + "/" + strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git"))
	}
	if filepath.IsAbs(raw) || strings.HasPrefix(raw, ".") {
		abs, err := filepath.Abs(raw)
		if err != nil {
			return raw
		}
		return abs
	}
	if m := scpAddress.FindStringSubmatch(raw); m != nil {
		return strings.ToLower(m[1] + "/" + strings.TrimSuffix(strings.Trim(m[2], "/"), ".git"))
	}
	abs, err := filepath.Abs(raw)
	if err != nil {
		return raw
	}
	return abs
}

// deliveryID is the id the sender gives a delivery (GitHub, GitLab, or
// X-Delivery-ID for the generic receiver), "" when none.
func deliveryID(r *http.Request) string {
	for _, h := range []string{"X-GitHub-Delivery", "X-Gitlab-Event-UUID", "X-Delivery-ID"} {
		if v := r.Header.Get(h); v != "" {
			return v
		}
	}
	return ""
}

// deliveries is a bounded set of delivery ids seen within a window.
type deliveries struct {
	window time.Duration
	max    int

	mu   sync.Mutex
	seen map[string]time.Time
}

func newDeliveries(window time.Duration, max int) *deliveries {
	return &deliveries{window: window, max: max, seen: map[string]time.Time{}}
}

// first records id at now and reports whether it was not seen within the
// window. Expired ids are dropped; when the set is full the oldest go.
func (d *deliveries) first(id string, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if at, ok := d.seen[id]; ok && now.Sub(at) < d.window {
		return false
	}
	if len(d.seen) >= d.max {
		for k, at := range d.seen {
			if now.Sub(at) >= d.window {
				delete(d.seen, k)
			}
		}
		for len(d.seen) >= d.max { // all recent: drop the oldest
			oldest, oldestAt := "", now
			for k, at := range d.seen {
				if !at.After(oldestAt) {
					oldest, oldestAt = k, at
				}
			}
			delete(d.seen, oldest)
		}
	}
	d.seen[id] = now
	return true
}
