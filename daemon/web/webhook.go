package web

import (
	"cmp"
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

// WebhookSecrets are the shared secrets of the webhook receivers; a
// receiver without a secret answers 404.
type WebhookSecrets struct {
	// GitHub is the secret of /hooks/github (X-Hub-Signature-256).
	GitHub string
	// GitLab is the token of /hooks/gitlab (X-Gitlab-Token).
	GitLab string
	// Generic is the secret of /hooks/generic (X-Signature-256).
	Generic string
}

// MaxWebhookBody is the largest webhook body accepted (413 beyond).
const MaxWebhookBody = 1 << 20

// Delivery ids and pushes are remembered for deliveryWindow, at most
// maxDeliveries of them.
const (
	deliveryWindow = 10 * time.Minute
	maxDeliveries  = 10000
)

// Push is what a receiver reads from a webhook: which repository moved and
// which reference.
type Push struct {
	// URLs are the repository's addresses (clone, ssh, web).
	URLs []string
	// Ref is the full reference name that moved (refs/heads/main).
	Ref string
	// DefaultBranch is the repository's default branch, when the payload says.
	DefaultBranch string
	// Before and After are the commits the reference moved from and to,
	// when the payload says (the generic receiver's optional "commit" is
	// After).
	Before, After string
}

// receiver is one webhook flavour.
type receiver struct {
	name string
	// secret returns the configured secret; "" disables the receiver.
	secret func(WebhookSecrets) string
	// precheck checks what can be checked of the signature before the
	// body is read: a well-formed signature header, or the whole token.
	precheck func(r *http.Request, secret string) bool
	// verify checks the request's signature or token against secret.
	verify func(r *http.Request, body []byte, secret string) bool
	// parse reads the push; ok false means an event that is not a push.
	parse func(r *http.Request, body []byte) (p Push, ok bool, err error)
}

var receivers = []receiver{
	hmacReceiver("github", "X-Hub-Signature-256", func(s WebhookSecrets) string { return s.GitHub }, parseGitHub),
	{
		name:     "gitlab",
		secret:   func(s WebhookSecrets) string { return s.GitLab },
		precheck: validGitLabToken,
		verify: func(r *http.Request, _ []byte, secret string) bool {
			return validGitLabToken(r, secret)
		},
		parse: parseGitLab,
	},
	hmacReceiver("generic", "X-Signature-256", func(s WebhookSecrets) string { return s.Generic }, parseGeneric),
}

// hmacReceiver is a receiver whose deliveries are signed with an HMAC of
// the body in header (GitHub's scheme).
func hmacReceiver(name, header string, secret func(WebhookSecrets) string, parse func(*http.Request, []byte) (Push, bool, error)) receiver {
	return receiver{
		name:   name,
		secret: secret,
		precheck: func(r *http.Request, _ string) bool {
			return wellFormedHMAC(r.Header.Get(header))
		},
		verify: func(r *http.Request, body []byte, secret string) bool {
			return validHMAC(r.Header.Get(header), body, secret)
		},
		parse: parse,
	}
}

// validGitLabToken checks GitLab's X-Gitlab-Token, a shared token rather
// than a signature: it needs no body.
func validGitLabToken(r *http.Request, secret string) bool {
	got := r.Header.Get("X-Gitlab-Token")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(secret)) == 1
}

// wellFormedHMAC reports whether header has the shape of a "sha256=<hex>"
// signature, so that a request without one is refused before its body is
// read.
func wellFormedHMAC(header string) bool {
	sig, ok := strings.CutPrefix(header, "sha256=")
	if !ok || len(sig) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(sig)
	return err == nil
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

func parseGitHub(r *http.Request, body []byte) (Push, bool, error) {
	switch r.Header.Get("X-GitHub-Event") {
	case "push":
	default:
		return Push{}, false, nil
	}
	var p struct {
		Ref        string `json:"ref"`
		Before     string `json:"before"`
		After      string `json:"after"`
		Repository struct {
			CloneURL      string `json:"clone_url"`
			SSHURL        string `json:"ssh_url"`
			GitURL        string `json:"git_url"`
			HTMLURL       string `json:"html_url"`
			DefaultBranch string `json:"default_branch"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Push{}, false, err
	}
	rp := p.Repository
	return Push{URLs: []string{rp.CloneURL, rp.SSHURL, rp.GitURL, rp.HTMLURL}, Ref: p.Ref, DefaultBranch: rp.DefaultBranch, Before: p.Before, After: p.After}, true, nil
}

func parseGitLab(r *http.Request, body []byte) (Push, bool, error) {
	switch r.Header.Get("X-Gitlab-Event") {
	case "Push Hook", "Tag Push Hook":
	default:
		return Push{}, false, nil
	}
	var p struct {
		Ref         string `json:"ref"`
		Before      string `json:"before"`
		After       string `json:"after"`
		CheckoutSHA string `json:"checkout_sha"`
		Project     struct {
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
		return Push{}, false, err
	}
	urls := []string{p.Project.HTTPURL, p.Project.SSHURL, p.Project.WebURL, p.Repository.HTTPURL, p.Repository.SSHURL}
	return Push{URLs: urls, Ref: p.Ref, DefaultBranch: p.Project.DefaultBranch, Before: p.Before, After: cmp.Or(p.After, p.CheckoutSHA)}, true, nil
}

// parseGeneric reads {"repository": URL, "ref": "refs/heads/main",
// "commit": "<sha>"}; an empty ref matches any reference of the
// repository; commit is optional (without it a push cannot be told from a
// replay of an earlier one).
func parseGeneric(_ *http.Request, body []byte) (Push, bool, error) {
	var p struct {
		Repository string `json:"repository"`
		Ref        string `json:"ref"`
		Commit     string `json:"commit"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Push{}, false, err
	}
	if p.Repository == "" {
		return Push{}, false, errors.New(`"repository" is required`)
	}
	return Push{URLs: []string{p.Repository}, Ref: p.Ref, After: p.Commit}, true, nil
}

// hookHandler serves one receiver.
func (h *handler) hookHandler(rc receiver) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secret := rc.secret(h.opts.Webhooks)
		if secret == "" {
			http.Error(w, "webhook receiver "+rc.name+" is not configured", http.StatusNotFound)
			return
		}
		// What the headers decide is decided before the body is read: a
		// client without the secret cannot make the server read (or wait
		// for) a body.
		id := deliveryID(r)
		if len(id) > MaxDeliveryID {
			http.Error(w, "delivery id too long", http.StatusBadRequest)
			return
		}
		if !rc.precheck(r, secret) {
			h.opts.Log.Warn("webhook refused: missing, malformed or bad signature", "receiver", rc.name, "remote", r.RemoteAddr)
			http.Error(w, "bad signature", http.StatusUnauthorized)
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
			h.opts.Log.Warn("webhook refused: bad signature", "receiver", rc.name, "remote", r.RemoteAddr)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if id != "" && !h.deliveries.first("id\x00"+rc.name+"\x00"+id, time.Now()) {
			h.opts.Log.Info("webhook delivery already seen; ignored", "receiver", rc.name, "delivery", id)
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
		// The delivery id is not signed: a replay with another id (or
		// none) is caught by what the signed body says moved.
		if key, ok := p.key(rc.name); ok && !h.deliveries.first(key, time.Now()) {
			h.opts.Log.Info("webhook push already received; ignored", "receiver", rc.name, "ref", p.Ref, "commit", p.After)
			writeJSON(w, http.StatusOK, map[string]any{"triggered": []string{}, "message": "push already received (same reference and commit); ignored"})
			return
		}
		if r.Header.Get(ForwardedHeader) == "" {
			h.relay(r, rc.name, body)
		}
		matched, triggered := h.backend.Pushed(p)
		if triggered == nil {
			triggered = []string{}
		}
		h.opts.Log.Info("webhook push", "receiver", rc.name, "ref", p.Ref, "triggered", triggered)
		code := http.StatusAccepted
		if matched == 0 {
			code = http.StatusOK
		}
		writeJSON(w, code, map[string]any{"sources": matched, "triggered": triggered})
	}
}

// key identifies the move a push reports (receiver, repository, reference,
// from and to which commit), for the replay check; ok is false when the
// payload names no commit (the generic receiver without "commit"), when
// two pushes cannot be told apart.
func (p Push) key(receiver string) (string, bool) {
	if p.After == "" {
		return "", false
	}
	urls := make([]string, 0, len(p.URLs))
	for _, u := range p.URLs {
		if u != "" {
			urls = append(urls, normalizeURL(u))
		}
	}
	return strings.Join([]string{"push", receiver, strings.Join(urls, " "), p.Ref, p.Before, p.After}, "\x00"), true
}

// Moved reports whether the push moved the repository repoURL and the
// reference ref (the --ref syntax of git.ParseRef; empty: the remote HEAD)
// a source watches. A source pinned to a commit is never moved by a push.
func (p Push) Moved(repoURL, ref string) bool {
	want := normalizeURL(repoURL)
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
	r := git.ParseRef(ref)
	switch {
	case r.Commit != "" && r.Branch == "":
		return false
	case r.Branch != "":
		return p.Ref == "refs/heads/"+r.Branch
	case r.Name != "":
		if strings.HasPrefix(r.Name, "refs/") {
			return p.Ref == r.Name
		}
		return p.Ref == "refs/heads/"+r.Name || p.Ref == "refs/tags/"+r.Name
	case r.Tag != "", r.SemVer != "":
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

// MaxDeliveryID is the longest delivery id accepted (400 beyond): GitHub's
// and GitLab's are UUIDs.
const MaxDeliveryID = 128

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

// deliveries is a bounded set of keys (delivery ids, pushes) seen within a
// window. Keys are kept as their SHA-256, so that its memory is bounded
// (max entries of a fixed size) whatever the senders send.
type deliveries struct {
	window time.Duration
	max    int

	mu    sync.Mutex
	seen  map[[sha256.Size]byte]time.Time
	order []seenKey // oldest first
}

// seenKey is one key and when it was recorded.
type seenKey struct {
	key [sha256.Size]byte
	at  time.Time
}

func newDeliveries(window time.Duration, max int) *deliveries {
	return &deliveries{window: window, max: max, seen: map[[sha256.Size]byte]time.Time{}}
}

// first records key at now and reports whether it was not seen within the
// window. Expired keys are dropped; when the set is full the oldest go.
func (d *deliveries) first(key string, now time.Time) bool {
	k := sha256.Sum256([]byte(key))
	d.mu.Lock()
	defer d.mu.Unlock()
	if at, ok := d.seen[k]; ok && now.Sub(at) < d.window {
		return false
	}
	for len(d.order) > 0 && (now.Sub(d.order[0].at) >= d.window || len(d.seen) >= d.max) {
		old := d.order[0]
		d.order = d.order[1:]
		if d.seen[old.key] == old.at {
			delete(d.seen, old.key)
		}
	}
	d.seen[k] = now
	d.order = append(d.order, seenKey{key: k, at: now})
	return true
}
