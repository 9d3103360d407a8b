package daemon

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/digitops/digitops/daemon/web"
)

// hookDaemon is a daemon (not running) watching a plain directory as if it
// were repoURL on branch main.
func hookDaemon(t *testing.T, secrets WebhookSecrets) (*Daemon, *source) {
	t.Helper()
	d, err := New(Options{
		Sources:  []SourceOptions{{URL: t.TempDir()}},
		CacheDir: t.TempDir(),
		Webhooks: secrets,
		Debounce: 10 * time.Millisecond,
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	s := d.sources[0]
	s.opts.URL = "https://github.com/egov/envs.git"
	s.opts.Ref = "main"
	return d, s
}

func TestWebhooks(t *testing.T) {
	const secret = "s3cret"
	githubBody := `{"ref":"refs/heads/main","repository":{"clone_url":"https://github.com/egov/envs.git","default_branch":"main"}}`
	tests := []struct {
		name      string            // what the case shows
		path      string            // the receiver
		headers   map[string]string // request headers; "SIGN" is replaced by the body's signature
		body      string            // the payload
		want      int               // the status code
		triggered bool              // whether the source is woken
	}{
		{"github push", "/hooks/github", map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "SIGN"}, githubBody, http.StatusAccepted, true},
		{"github bad signature", "/hooks/github", map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=00"}, githubBody, http.StatusUnauthorized, false},
		{"github no signature", "/hooks/github", map[string]string{"X-GitHub-Event": "push"}, githubBody, http.StatusUnauthorized, false},
		{"github ping", "/hooks/github", map[string]string{"X-GitHub-Event": "ping", "X-Hub-Signature-256": "SIGN"}, `{}`, http.StatusOK, false},
		{"github other branch", "/hooks/github", map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "SIGN"},
			strings.Replace(githubBody, "refs/heads/main", "refs/heads/dev", 1), http.StatusOK, false},
		{"github other repository", "/hooks/github", map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "SIGN"},
			strings.Replace(githubBody, "egov/envs", "egov/other", 1), http.StatusOK, false},
		{"github body too large", "/hooks/github", map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "SIGN"},
			`{"pad":"` + strings.Repeat("x", web.MaxWebhookBody) + `"}`, http.StatusRequestEntityTooLarge, false},
		{"github bad JSON", "/hooks/github", map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "SIGN"}, `{`, http.StatusBadRequest, false},
		{"gitlab push over ssh URL", "/hooks/gitlab", map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": secret},
			`{"ref":"refs/heads/main","project":{"git_ssh_url":"git@github.com:egov/envs.git"}}`, http.StatusAccepted, true},
		{"gitlab bad token", "/hooks/gitlab", map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "nope"},
			`{"ref":"refs/heads/main","project":{"git_ssh_url":"git@github.com:egov/envs.git"}}`, http.StatusUnauthorized, false},
		{"generic push", "/hooks/generic", map[string]string{"X-Signature-256": "SIGN"},
			`{"repository":"https://GitHub.com/egov/envs/","ref":"refs/heads/main"}`, http.StatusAccepted, true},
		{"generic bad signature", "/hooks/generic", map[string]string{"X-Signature-256": "sha256=zz"},
			`{"repository":"https://github.com/egov/envs"}`, http.StatusUnauthorized, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // a case that must not wake the source waits 200 ms
			d, s := hookDaemon(t, WebhookSecrets{GitHub: secret, GitLab: secret, Generic: secret})
			req := httptest.NewRequest(http.MethodPost, tt.path, bytes.NewReader([]byte(tt.body)))
			for k, v := range tt.headers {
				if v == "SIGN" {
					v = web.Sign([]byte(tt.body), secret)
				}
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			d.Handler().ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("status = %d, want %d (%s)", rec.Code, tt.want, rec.Body.String())
			}
			select {
			case <-s.poke:
				if !tt.triggered {
					t.Error("the source was woken")
				}
			case <-time.After(200 * time.Millisecond):
				if tt.triggered {
					t.Error("the source was not woken")
				}
			}
		})
	}
}

func TestWebhooks_unconfigured(t *testing.T) {
	d, _ := hookDaemon(t, WebhookSecrets{})
	req := httptest.NewRequest(http.MethodPost, "/hooks/github", strings.NewReader(`{}`))
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound {
		t.Errorf("unconfigured receiver: %d, want 404", rec.Code)
	}
}

func TestWebhooks_debounce(t *testing.T) {
	t.Parallel() // it waits out debounce windows
	d, s := hookDaemon(t, WebhookSecrets{Generic: "k"})
	d.opts.Debounce, d.opts.DebounceMaxWait = 300*time.Millisecond, time.Second
	body := []byte(`{"repository":"https://github.com/egov/envs"}`)
	for range 3 {
		req := httptest.NewRequest(http.MethodPost, "/hooks/generic", bytes.NewReader(body))
		req.Header.Set("X-Signature-256", web.Sign(body, "k"))
		d.Handler().ServeHTTP(httptest.NewRecorder(), req)
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case <-s.poke:
		t.Fatal("woken before the debounce delay")
	case <-time.After(150 * time.Millisecond):
	}
	select {
	case <-s.poke:
	case <-time.After(time.Second):
		t.Fatal("not woken after the debounce delay")
	}
	select {
	case <-s.poke:
		t.Error("three pushes woke the source more than once")
	case <-time.After(400 * time.Millisecond):
	}
}

// TestWebhooks_replay: a signed delivery sent again (same delivery id)
// triggers nothing; a new delivery does.
func TestWebhooks_replay(t *testing.T) {
	const secret = "s3cret"
	d, s := hookDaemon(t, WebhookSecrets{GitHub: secret})
	body := []byte(`{"ref":"refs/heads/main","repository":{"clone_url":"https://github.com/egov/envs.git","default_branch":"main"}}`)
	send := func(delivery string) int {
		req := httptest.NewRequest(http.MethodPost, "/hooks/github", bytes.NewReader(body))
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", delivery)
		req.Header.Set("X-Hub-Signature-256", web.Sign(body, secret))
		rec := httptest.NewRecorder()
		d.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	woken := func() bool {
		select {
		case <-s.poke:
			return true
		case <-time.After(200 * time.Millisecond):
			return false
		}
	}
	if code := send("d-1"); code != http.StatusAccepted || !woken() {
		t.Fatalf("first delivery: %d", code)
	}
	if code := send("d-1"); code != http.StatusOK || woken() {
		t.Errorf("replayed delivery: %d, or it woke the source", code)
	}
	if code := send("d-2"); code != http.StatusAccepted || !woken() {
		t.Errorf("a new delivery: %d", code)
	}
}

// TestWebhooks_debounceMaxWait: pushes arriving faster than the debounce
// delay, for longer than the maximum wait, do not put the sync off past
// the maximum wait.
func TestWebhooks_debounceMaxWait(t *testing.T) {
	t.Parallel() // it waits out debounce windows
	d, s := hookDaemon(t, WebhookSecrets{Generic: "k"})
	d.opts.Debounce, d.opts.DebounceMaxWait = 200*time.Millisecond, 400*time.Millisecond
	body := []byte(`{"repository":"https://github.com/egov/envs"}`)
	start := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() { // a push every 50 ms for 2 s
		for i := 0; i < 40; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			req := httptest.NewRequest(http.MethodPost, "/hooks/generic", bytes.NewReader(body))
			req.Header.Set("X-Signature-256", web.Sign(body, "k"))
			d.Handler().ServeHTTP(httptest.NewRecorder(), req)
		}
	}()
	select {
	case <-s.poke:
		if waited := time.Since(start); waited > time.Second {
			t.Errorf("woken after %s, want about 450ms (the first push, then at most 400ms)", waited)
		}
	case <-time.After(1500 * time.Millisecond):
		t.Fatal("a stream of pushes kept putting the sync off")
	}
}

// readCounter is a request body that counts its reads.
type readCounter struct{ reads int }

func (r *readCounter) Read(p []byte) (int, error) {
	r.reads++
	return 0, errors.New("the body was read")
}

// TestWebhooks_signatureBeforeBody: a request without a well-formed
// signature (or with a bad GitLab token) is refused before its body is
// read; a well-formed one is read, then verified.
func TestWebhooks_signatureBeforeBody(t *testing.T) {
	tests := []struct {
		name    string            // what the case shows
		path    string            // the receiver
		headers map[string]string // request headers
		read    bool              // whether the body may be read
		want    int               // the status code
	}{
		{"github without signature", "/hooks/github", map[string]string{"X-GitHub-Event": "push"}, false, http.StatusUnauthorized},
		{"github signature not hex", "/hooks/github", map[string]string{"X-Hub-Signature-256": "sha256=" + strings.Repeat("z", 64)}, false, http.StatusUnauthorized},
		{"github signature too short", "/hooks/github", map[string]string{"X-Hub-Signature-256": "sha256=00"}, false, http.StatusUnauthorized},
		{"generic without signature", "/hooks/generic", nil, false, http.StatusUnauthorized},
		{"gitlab bad token", "/hooks/gitlab", map[string]string{"X-Gitlab-Token": "nope"}, false, http.StatusUnauthorized},
		{"delivery id too long", "/hooks/github", map[string]string{"X-GitHub-Delivery": strings.Repeat("d", web.MaxDeliveryID+1), "X-Hub-Signature-256": "sha256=" + strings.Repeat("0", 64)}, false, http.StatusBadRequest},
		{"github well-formed signature: read", "/hooks/github", map[string]string{"X-Hub-Signature-256": "sha256=" + strings.Repeat("0", 64)}, true, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := hookDaemon(t, WebhookSecrets{GitHub: "s", GitLab: "s", Generic: "s"})
			body := &readCounter{}
			req := httptest.NewRequest(http.MethodPost, tt.path, io.NopCloser(body))
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			d.Handler().ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("status = %d, want %d (%s)", rec.Code, tt.want, rec.Body.String())
			}
			if read := body.reads > 0; read != tt.read {
				t.Errorf("body read: %v, want %v", read, tt.read)
			}
		})
	}
}

// TestWebhooks_replayWithAnotherID: a signed push sent again with another
// delivery id, or none, triggers nothing: it is the same reference moving
// to the same commit. A push of another commit does trigger.
func TestWebhooks_replayWithAnotherID(t *testing.T) {
	t.Parallel() // it waits out debounce windows
	const secret = "s3cret"
	d, s := hookDaemon(t, WebhookSecrets{GitHub: secret, GitLab: secret, Generic: secret})
	github := func(after string) []byte {
		return []byte(`{"ref":"refs/heads/main","before":"1111111111111111111111111111111111111111","after":"` + after + `","repository":{"clone_url":"https://github.com/egov/envs.git","default_branch":"main"}}`)
	}
	woken := func() bool {
		select {
		case <-s.poke:
			return true
		case <-time.After(150 * time.Millisecond):
			return false
		}
	}
	tests := []struct {
		name     string // what the case shows
		path     string // the receiver
		event    string // the event header's value
		delivery string // the delivery id; "" sends none
		body     []byte // the signed payload
		want     int    // the status code
		woken    bool   // whether the source is woken
	}{
		{"first push", "/hooks/github", "push", "d-1", github(strings.Repeat("a", 40)), http.StatusAccepted, true},
		{"same push, another id", "/hooks/github", "push", "d-2", github(strings.Repeat("a", 40)), http.StatusOK, false},
		{"same push, no id", "/hooks/github", "push", "", github(strings.Repeat("a", 40)), http.StatusOK, false},
		{"next commit", "/hooks/github", "push", "d-3", github(strings.Repeat("b", 40)), http.StatusAccepted, true},
		{"generic with a commit", "/hooks/generic", "", "", []byte(`{"repository":"https://github.com/egov/envs","ref":"refs/heads/main","commit":"cccc"}`), http.StatusAccepted, true},
		{"generic replayed", "/hooks/generic", "", "", []byte(`{"repository":"https://github.com/egov/envs","ref":"refs/heads/main","commit":"cccc"}`), http.StatusOK, false},
		{"gitlab push", "/hooks/gitlab", "Push Hook", "u-1", []byte(`{"ref":"refs/heads/main","after":"dddd","project":{"git_http_url":"https://github.com/egov/envs.git"}}`), http.StatusAccepted, true},
		{"gitlab replayed, another id", "/hooks/gitlab", "Push Hook", "u-2", []byte(`{"ref":"refs/heads/main","after":"dddd","project":{"git_http_url":"https://github.com/egov/envs.git"}}`), http.StatusOK, false},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodPost, tt.path, bytes.NewReader(tt.body))
		switch tt.path {
		case "/hooks/github":
			req.Header.Set("X-GitHub-Event", tt.event)
			req.Header.Set("X-Hub-Signature-256", web.Sign(tt.body, secret))
			if tt.delivery != "" {
				req.Header.Set("X-GitHub-Delivery", tt.delivery)
			}
		case "/hooks/gitlab":
			req.Header.Set("X-Gitlab-Event", tt.event)
			req.Header.Set("X-Gitlab-Token", secret)
			req.Header.Set("X-Gitlab-Event-UUID", tt.delivery)
		default:
			req.Header.Set("X-Signature-256", web.Sign(tt.body, secret))
		}
		rec := httptest.NewRecorder()
		d.Handler().ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("%s: status = %d, want %d (%s)", tt.name, rec.Code, tt.want, rec.Body.String())
		}
		if got := woken(); got != tt.woken {
			t.Errorf("%s: woken = %v, want %v", tt.name, got, tt.woken)
		}
	}
}
