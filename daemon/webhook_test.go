package daemon

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
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
			`{"pad":"` + strings.Repeat("x", MaxWebhookBody) + `"}`, http.StatusRequestEntityTooLarge, false},
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
			d, s := hookDaemon(t, WebhookSecrets{GitHub: secret, GitLab: secret, Generic: secret})
			req := httptest.NewRequest(http.MethodPost, tt.path, bytes.NewReader([]byte(tt.body)))
			for k, v := range tt.headers {
				if v == "SIGN" {
					v = Sign([]byte(tt.body), secret)
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
	d, s := hookDaemon(t, WebhookSecrets{Generic: "k"})
	d.opts.Debounce = 300 * time.Millisecond
	body := []byte(`{"repository":"https://github.com/egov/envs"}`)
	for range 3 {
		req := httptest.NewRequest(http.MethodPost, "/hooks/generic", bytes.NewReader(body))
		req.Header.Set("X-Signature-256", Sign(body, "k"))
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

func TestNormalizeURL(t *testing.T) {
	same := []string{
		"https://github.com/egov/envs.git",
		"https://user:token@GitHub.com/egov/envs",
		"git@github.com:egov/envs.git",
		"ssh://git@github.com:22/egov/envs.git",
		"https://github.com/egov/envs/",
	}
	for _, u := range same {
		if got := normalizeURL(u); got != "github.com/egov/envs" {
			t.Errorf("normalizeURL(%q) = %q", u, got)
		}
	}
	if normalizeURL("file:///tmp/repo") != normalizeURL("/tmp/repo/") {
		t.Error("file:// and a local path differ")
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
		req.Header.Set("X-Hub-Signature-256", Sign(body, secret))
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

func TestDeliveries_bounded(t *testing.T) {
	ds := newDeliveries(time.Minute, 3)
	now := time.Now()
	for i, id := range []string{"a", "b", "c", "d"} {
		if !ds.first(id, now.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("%s seen before", id)
		}
	}
	if len(ds.seen) > 3 {
		t.Errorf("%d ids kept, want at most 3", len(ds.seen))
	}
	if ds.first("d", now.Add(10*time.Second)) {
		t.Error("d within the window is not a replay")
	}
	if !ds.first("d", now.Add(2*time.Minute)) {
		t.Error("d after the window should pass")
	}
}
