package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a fake SaaS endpoint: it records requests and answers with
// the statuses in fail first, then 200/201.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
	fail []int
}

type recorded struct {
	path, query string
	header      http.Header
	body        []byte
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, recorded{req.URL.Path, req.URL.RawQuery, req.Header.Clone(), body})
	code := http.StatusCreated
	if len(r.fail) > 0 {
		code, r.fail = r.fail[0], r.fail[1:]
	}
	r.mu.Unlock()
	w.WriteHeader(code)
}

func (r *recorder) got() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

func serve(t *testing.T, r *recorder) string {
	s := httptest.NewServer(r)
	t.Cleanup(s.Close)
	return s.URL
}

var event = Event{Kind: SyncFailed, Environment: "egov-demo", Revision: "main@sha1:0123456789abcdef0123456789abcdef01234567",
	Commit: "0123456789abcdef0123456789abcdef01234567", Releases: []string{"egov-user"}, Message: `release "egov-user" failed: not ready`, URL: "https://digitops.example.org/"}

func TestProviders(t *testing.T) {
	ctx := context.Background()
	t.Run("webhook signs the JSON", func(t *testing.T) {
		r := &recorder{}
		if err := (Webhook{URL: serve(t, r) + "/hook", Secret: "s3cret"}).Send(ctx, event); err != nil {
			t.Fatal(err)
		}
		got := r.got()[0]
		mac := hmac.New(sha256.New, []byte("s3cret"))
		mac.Write(got.body)
		if got.header.Get("X-Signature-256") != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
			t.Errorf("signature %q does not verify", got.header.Get("X-Signature-256"))
		}
		var e Event
		if err := json.Unmarshal(got.body, &e); err != nil || e.Kind != SyncFailed || e.Environment != "egov-demo" || e.Commit != event.Commit {
			t.Errorf("body %s (%v)", got.body, err)
		}
	})
	t.Run("slack text", func(t *testing.T) {
		r := &recorder{}
		if err := (Slack{URL: serve(t, r) + "/services/T0/B0/XXXX"}).Send(ctx, event); err != nil {
			t.Fatal(err)
		}
		var msg struct{ Text string }
		_ = json.Unmarshal(r.got()[0].body, &msg)
		for _, want := range []string{"sync-failed", "egov-demo", "main@0123456", "egov-user", "not ready", "https://digitops.example.org/"} {
			if !strings.Contains(msg.Text, want) {
				t.Errorf("slack text lacks %q: %q", want, msg.Text)
			}
		}
	})
	t.Run("github commit status", func(t *testing.T) {
		r := &recorder{}
		if err := (GitHub{APIURL: serve(t, r), Repository: "egov/DIGIT-DevOps", Token: "ghp_token"}).Send(ctx, event); err != nil {
			t.Fatal(err)
		}
		got := r.got()[0]
		var body map[string]string
		_ = json.Unmarshal(got.body, &body)
		if got.path != "/repos/egov/DIGIT-DevOps/statuses/"+event.Commit || got.header.Get("Authorization") != "Bearer ghp_token" ||
			body["state"] != "failure" || body["context"] != "digitops/egov-demo" || body["target_url"] != event.URL {
			t.Errorf("github request %s %v %v", got.path, body, got.header)
		}
	})
	t.Run("gitlab commit status", func(t *testing.T) {
		r := &recorder{}
		e := event
		e.Kind = SyncStarted
		if err := (GitLab{APIURL: serve(t, r), Project: "egov/devops", Token: "glpat"}).Send(ctx, e); err != nil {
			t.Fatal(err)
		}
		got := r.got()[0]
		if got.path != "/api/v4/projects/egov/devops/statuses/"+e.Commit || got.header.Get("PRIVATE-TOKEN") != "glpat" ||
			!strings.Contains(got.query, "state=running") || !strings.Contains(got.query, "name=digitops%2Fegov-demo") {
			t.Errorf("gitlab request %s?%s", got.path, got.query)
		}
	})
	t.Run("errors name the host, never the secret", func(t *testing.T) {
		r := &recorder{fail: []int{500}}
		base := serve(t, r)
		err := (Slack{URL: base + "/services/T0/B0/SECRETPART"}).Send(ctx, event)
		if err == nil || strings.Contains(err.Error(), "SECRETPART") || !strings.Contains(err.Error(), "500") {
			t.Errorf("error %v", err)
		}
		err = (Slack{URL: "http://127.0.0.1:1/services/T0/B0/SECRETPART"}).Send(ctx, event)
		if err == nil || strings.Contains(err.Error(), "SECRETPART") {
			t.Errorf("error %v", err)
		}
	})
	if (Slack{}).Wants(SyncStarted) || !(GitHub{}).Wants(SyncStarted) || (GitHub{}).Wants(DriftCorrected) || (Webhook{Events: []Kind{DriftCorrected}}).Wants(SyncFailed) {
		t.Error("Wants is wrong")
	}
}

// countRecorder counts sends by provider and result.
type countRecorder struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countRecorder) count(provider, result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[provider+" "+result]++
}

func (c *countRecorder) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

func TestQueue_retriesOnceAndDeduplicates(t *testing.T) {
	r := &recorder{fail: []int{502, 503}}
	counts := &countRecorder{n: map[string]int{}}
	q := NewQueue(QueueOptions{Backoff: 10 * time.Millisecond, Count: counts.count})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx)
	hook := []Provider{Webhook{URL: serve(t, r)}}
	q.Notify(hook, event)
	q.Notify(hook, event) // the same sync failing again on the same revision
	next := event
	next.Revision, next.Commit = "main@sha1:fedcba", "fedcba"
	q.Notify(hook, next) // a new revision notifies again
	deadline := time.Now().Add(5 * time.Second)
	for counts.get("webhook sent")+counts.get("webhook deduplicated") < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if counts.get("webhook sent") != 2 || counts.get("webhook deduplicated") != 1 {
		t.Errorf("counts %v, want 2 sent and 1 deduplicated", counts.n)
	}
	if n := len(r.got()); n != 4 {
		t.Errorf("%d requests, want 4 (two failures retried, then one per revision)", n)
	}
}

func TestQueue_neverBlocks(t *testing.T) {
	counts := &countRecorder{n: map[string]int{}}
	q := NewQueue(QueueOptions{Size: 2, Count: counts.count}) // not running
	start := time.Now()
	for i := range 10 {
		e := event
		e.Revision = string(rune('a' + i))
		q.Notify([]Provider{Webhook{URL: "http://127.0.0.1:1"}}, e)
	}
	if time.Since(start) > time.Second {
		t.Error("Notify waited")
	}
	if counts.get("webhook dropped") != 8 {
		t.Errorf("dropped %d, want 8", counts.get("webhook dropped"))
	}
}

func TestQueue_givesUp(t *testing.T) {
	r := &recorder{fail: []int{500, 500, 500}}
	counts := &countRecorder{n: map[string]int{}}
	q := NewQueue(QueueOptions{Attempts: 3, Backoff: time.Millisecond, Count: counts.count})
	q.send(context.Background(), GitHub{APIURL: serve(t, r), Repository: "o/r", Token: "t"}, event)
	if counts.get("github failed") != 1 || len(r.got()) != 3 {
		t.Errorf("counts %v after %d requests, want one failure after 3 attempts", counts.n, len(r.got()))
	}
}

func TestQueue_refusalIsNotRetried(t *testing.T) {
	for _, tt := range []struct {
		code     int // the first answer
		requests int // requests made
		result   string
	}{
		{http.StatusUnauthorized, 1, "failed"},
		{http.StatusNotFound, 1, "failed"},
		{http.StatusTooManyRequests, 2, "sent"},
		{http.StatusRequestTimeout, 2, "sent"},
		{http.StatusBadGateway, 2, "sent"},
	} {
		r := &recorder{fail: []int{tt.code}}
		counts := &countRecorder{n: map[string]int{}}
		q := NewQueue(QueueOptions{Attempts: 3, Backoff: time.Millisecond, Count: counts.count})
		q.send(context.Background(), GitHub{APIURL: serve(t, r), Repository: "o/r", Token: "t"}, event)
		if n := len(r.got()); n != tt.requests || counts.get("github "+tt.result) != 1 {
			t.Errorf("answer %d: %d requests and counts %v, want %d requests and one %s", tt.code, n, counts.n, tt.requests, tt.result)
		}
	}
}

func TestSend_neverFollowsARedirect(t *testing.T) {
	elsewhere := &recorder{}
	target := serve(t, elsewhere)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, target+req.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirect.Close)
	err := GitHub{APIURL: redirect.URL, Repository: "o/r", Token: "ghp_redirected"}.Send(context.Background(), event)
	if err == nil {
		t.Fatal("a redirect counted as sent")
	}
	if n := len(elsewhere.got()); n != 0 {
		t.Fatalf("the redirect was followed: the token went to another server (%d requests)", n)
	}
	if retryable(err) {
		t.Errorf("a redirect is retried: %v", err)
	}
}

func TestQueue_commitStatusFollowsTheLastState(t *testing.T) {
	r := &recorder{}
	counts := &countRecorder{n: map[string]int{}}
	q := NewQueue(QueueOptions{Backoff: time.Millisecond, Count: counts.count})
	gh := GitHub{APIURL: serve(t, r), Repository: "o/r", Token: "t"}
	at := func(k Kind) Event { e := event; e.Kind = k; return e }
	// One revision: pending, failure, a retry that succeeds, then the
	// same success again.
	for _, k := range []Kind{SyncStarted, SyncFailed, SyncStarted, SyncSucceeded, SyncSucceeded} {
		q.send(context.Background(), gh, at(k))
	}
	var states []string
	for _, req := range r.got() {
		var body map[string]string
		if err := json.Unmarshal(req.body, &body); err != nil {
			t.Fatal(err)
		}
		states = append(states, body["state"])
	}
	if got, want := strings.Join(states, ","), "pending,failure,pending,success"; got != want {
		t.Errorf("commit statuses sent %s, want %s (sent again when the state changes, once otherwise)", got, want)
	}
	// Another repository is another status.
	q.send(context.Background(), GitHub{APIURL: gh.APIURL, Repository: "o/other", Token: "t"}, at(SyncSucceeded))
	if n := len(r.got()); n != 5 {
		t.Errorf("%d requests after a second repository's status, want 5", n)
	}
}

func TestQueue_flushSendsWhatIsQueued(t *testing.T) {
	r := &recorder{}
	counts := &countRecorder{n: map[string]int{}}
	q := NewQueue(QueueOptions{Count: counts.count}) // Run has stopped
	hook := []Provider{Webhook{URL: serve(t, r)}}
	for _, k := range []Kind{SyncFailed, DriftCorrected} {
		e := event
		e.Kind = k
		q.Notify(hook, e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	q.Flush(ctx)
	if n := len(r.got()); n != 2 || counts.get("webhook sent") != 2 {
		t.Errorf("flush sent %d requests (counts %v), want the 2 queued events", n, counts.n)
	}
}
