package web

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/digitops/digitops/internal/statusapi"
)

// shardBackend is a Backend of one replica of serve --shard: it owns
// "mine", another replica (owner) owns "theirs", and peers are relayed to.
type shardBackend struct {
	Backend
	owner  string
	peers  []string
	pushes chan Push
}

func (b shardBackend) Route(env string) (string, bool) {
	if env == "mine" {
		return "", true
	}
	return b.owner, false
}
func (b shardBackend) RouteRollouts() (string, bool) { return b.owner, false }
func (b shardBackend) Peers() []string               { return b.peers }
func (b shardBackend) Retry(_ context.Context, env, _ string) (statusapi.Environment, error) {
	return statusapi.Environment{Name: env, Owner: "here"}, nil
}
func (b shardBackend) Pushed(p Push) (int, []string) {
	b.pushes <- p
	return 1, []string{"mine"}
}

// TestRouted_forwardsToOwner: an action on an environment another replica
// owns is carried out there, with the caller's token; one forwarded
// already is not forwarded again; with no owner the answer says retry.
func TestRouted_forwardsToOwner(t *testing.T) {
	got := make(chan *http.Request, 4)
	owner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"name":"theirs","owner":"there"}`)
	}))
	t.Cleanup(owner.Close)
	h := NewHandler(shardBackend{owner: owner.URL}, Options{Registry: prometheus.NewRegistry(), APIToken: "tok", Log: slog.New(slog.DiscardHandler)})
	send := func(path string, forwarded bool) (int, string) {
		req := httptest.NewRequest(http.MethodPost, path, nil)
		req.Header.Set("Authorization", "Bearer tok")
		if forwarded {
			req.Header.Set(ForwardedHeader, "1")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	if code, body := send("/api/v1/environments/mine/retry", false); code != http.StatusOK || !bytes.Contains([]byte(body), []byte(`"owner": "here"`)) {
		t.Fatalf("own environment: %d %s", code, body)
	}
	code, body := send("/api/v1/environments/theirs/releases/egov-user/retry", false)
	if code != http.StatusOK || !bytes.Contains([]byte(body), []byte(`"owner":"there"`)) {
		t.Fatalf("forwarded: %d %s", code, body)
	}
	r := <-got
	if r.URL.Path != "/api/v1/environments/theirs/releases/egov-user/retry" || r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get(ForwardedHeader) == "" {
		t.Fatalf("owner got %s %s, auth %q, forwarded %q", r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get(ForwardedHeader))
	}
	if code, _ := send("/api/v1/environments/theirs/retry", true); code != http.StatusConflict {
		t.Fatalf("forwarded twice: %d, want 409", code)
	}
	if code, _ := send("/api/v1/rollouts/egov/promote", false); code != http.StatusOK {
		t.Fatalf("rollout action forwarded: %d", code)
	}
	if r := <-got; r.URL.Path != "/api/v1/rollouts/egov/promote" {
		t.Fatalf("rollout action reached %s", r.URL.Path)
	}
	nobody := NewHandler(shardBackend{}, Options{Registry: prometheus.NewRegistry(), APIToken: "tok", Log: slog.New(slog.DiscardHandler)})
	req := httptest.NewRequest(http.MethodPost, "/api/v1/environments/theirs/suspend", nil)
	req.Header.Set("Authorization", "Bearer tok")
	rec := httptest.NewRecorder()
	nobody.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("no owner: %d %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	// Without the token nothing is forwarded.
	req = httptest.NewRequest(http.MethodPost, "/api/v1/environments/theirs/suspend", nil)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized || len(got) != 0 {
		t.Fatalf("without a token: %d, %d forwarded", rec.Code, len(got))
	}
}

// TestWebhook_relayedToPeers: a verified push is relayed as it came to the
// other replicas, which check its signature themselves; a relayed push is
// not relayed again, and a bad signature is relayed nowhere.
func TestWebhook_relayedToPeers(t *testing.T) {
	const secret = "s3cret"
	relayed := make(chan *http.Request, 4)
	bodies := make(chan []byte, 4)
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		relayed <- r
		bodies <- b
	}))
	t.Cleanup(peer.Close)
	pushes := make(chan Push, 4)
	h := NewHandler(shardBackend{peers: []string{peer.URL}, pushes: pushes}, Options{Registry: prometheus.NewRegistry(), Webhooks: WebhookSecrets{Generic: secret}, Log: slog.New(slog.DiscardHandler)})
	body := []byte(`{"repository":"https://git.example.org/envs.git","ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567"}`)
	post := func(sig string, forwarded bool) int {
		req := httptest.NewRequest(http.MethodPost, "/hooks/generic", bytes.NewReader(body))
		req.Header.Set("X-Signature-256", sig)
		if forwarded {
			req.Header.Set(ForwardedHeader, "1")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := post("sha256=00", false); code != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d", code)
	}
	if code := post(Sign(body, secret), false); code != http.StatusOK && code != http.StatusAccepted {
		t.Fatalf("push: %d", code)
	}
	<-pushes
	select {
	case r := <-relayed:
		if r.URL.Path != "/hooks/generic" || r.Header.Get("X-Signature-256") != Sign(body, secret) || r.Header.Get(ForwardedHeader) == "" {
			t.Fatalf("relayed %s with signature %q, forwarded %q", r.URL.Path, r.Header.Get("X-Signature-256"), r.Header.Get(ForwardedHeader))
		}
		if b := <-bodies; !bytes.Equal(b, body) {
			t.Fatalf("relayed body %q", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the push was not relayed")
	}
	// A relayed copy arriving here (another commit, so not a replay) is
	// acted on but not relayed again.
	body = bytes.Replace(body, []byte("0123"), []byte("4567"), 1)
	if code := post(Sign(body, secret), true); code != http.StatusOK && code != http.StatusAccepted {
		t.Fatalf("relayed push: %d", code)
	}
	<-pushes
	select {
	case r := <-relayed:
		t.Fatalf("a relayed push was relayed again to %s", r.URL.Path)
	case <-time.After(500 * time.Millisecond):
	}
}

// TestViewRouted_rendersAtOwner: the console's view of an environment
// another replica owns is that replica's rendering (its history and
// details are its own), fetched with the marker that stops a second hop.
func TestViewRouted_rendersAtOwner(t *testing.T) {
	got := make(chan *http.Request, 1)
	owner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r
		_, _ = io.WriteString(w, "<p>the owner's view</p>")
	}))
	t.Cleanup(owner.Close)
	h := NewHandler(shardBackend{owner: owner.URL}, Options{Registry: prometheus.NewRegistry(), Log: slog.New(slog.DiscardHandler)})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/environments/theirs/releases/egov-user?q=x", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "<p>the owner's view</p>" {
		t.Fatalf("view of another replica's environment: %d %q", rec.Code, rec.Body.String())
	}
	r := <-got
	if r.URL.Path != "/environments/theirs/releases/egov-user" || r.URL.RawQuery != "q=x" || r.Header.Get(ForwardedHeader) == "" {
		t.Errorf("the owner got %s?%s, forwarded %q", r.URL.Path, r.URL.RawQuery, r.Header.Get(ForwardedHeader))
	}
}
