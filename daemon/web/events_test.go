package web

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/digitops/digitops/internal/statusapi"
)

// stream is a client of GET /api/v1/events.
type stream struct {
	t      *testing.T
	resp   *http.Response
	lines  chan string
	cancel context.CancelFunc
}

// openStream connects to url's event stream.
func openStream(t *testing.T, url string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		t.Fatalf("GET /api/v1/events: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	s := &stream{t: t, resp: resp, lines: make(chan string, 64), cancel: cancel}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { cancel(); _ = resp.Body.Close() })
	return s
}

// next returns the next event's name and data, or a comment as name
// ":" and its text; ok is false when the stream ended or timeout passed.
func (s *stream) next(timeout time.Duration) (name, data string, ok bool) {
	deadline := time.After(timeout)
	for {
		select {
		case line, open := <-s.lines:
			switch {
			case !open:
				return "", "", false
			case strings.HasPrefix(line, ":"):
				return ":", strings.TrimSpace(line[1:]), true
			case strings.HasPrefix(line, "event: "):
				name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				data = line[len("data: "):]
			case line == "" && name != "":
				return name, data, true
			}
		case <-deadline:
			return "", "", false
		}
	}
}

// ended reports whether the stream ends within timeout.
func (s *stream) ended(timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		select {
		case _, open := <-s.lines:
			if !open {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// status reads events until a status one and decodes it.
func (s *stream) status(timeout time.Duration) statusapi.Status {
	s.t.Helper()
	for {
		name, data, ok := s.next(timeout)
		if !ok {
			s.t.Fatal("no status event")
		}
		if name == "status" {
			var st statusapi.Status
			if err := json.Unmarshal([]byte(data), &st); err != nil {
				s.t.Fatalf("status event: %v: %s", err, data)
			}
			return st
		}
	}
}

// eventsHandler is a handler on b whose stream polls and beats fast.
func eventsHandler(b Backend, maxClients int) *handler {
	h := newHandler(b, testOptions(""))
	h.events.poll, h.events.maxClients, h.heartbeat = 10*time.Millisecond, maxClients, 50*time.Millisecond
	return h
}

// waitFor waits for cond, failing after 5 s saying what.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 5s for %s", what)
		}
	}
}

// TestEvents_statusOnChange: a client gets the status at once, an event
// when it changes and none while it does not (heartbeats only); every
// client is served by the same reads of the status.
func TestEvents_statusOnChange(t *testing.T) {
	b := quickstart(goldenNow)
	h := eventsHandler(b, 10)
	srv := consoleServer(t, h)
	s1, s2 := openStream(t, srv.URL), openStream(t, srv.URL)
	for _, s := range []*stream{s1, s2} {
		if st := s.status(5 * time.Second); len(st.Environments) != 4 || st.Environments[0].Phase != statusapi.PhaseFailing {
			t.Fatalf("first event: %+v", st.Environments)
		}
	}
	// Nothing changes: heartbeats, no event.
	for range 3 {
		if name, _, ok := s1.next(time.Second); !ok || name != ":" {
			t.Fatalf("while nothing changes: %q, %v; want a heartbeat", name, ok)
		}
	}
	reads := b.statusReads.Load()
	time.Sleep(100 * time.Millisecond)
	if n := b.statusReads.Load() - reads; n > 15 {
		t.Errorf("%d reads of the status in 100ms with a 10ms poll and two clients: one poller per client?", n)
	}
	b.setStatus(func(st *statusapi.Status) { st.Environments[0].Phase = statusapi.PhaseInSync })
	for _, s := range []*stream{s1, s2} {
		if st := s.status(5 * time.Second); st.Environments[0].Phase != statusapi.PhaseInSync {
			t.Errorf("after the change: dev %s, want in-sync", st.Environments[0].Phase)
		}
	}
}

// TestEvents_stopsOnDisconnect: a client that goes is forgotten, and the
// status is no longer read once none listens.
func TestEvents_stopsOnDisconnect(t *testing.T) {
	b := quickstart(goldenNow)
	h := eventsHandler(b, 10)
	srv := consoleServer(t, h)
	s := openStream(t, srv.URL)
	s.status(5 * time.Second)
	s.cancel()
	waitFor(t, "the client to be forgotten", func() bool {
		h.events.mu.Lock()
		defer h.events.mu.Unlock()
		return len(h.events.clients) == 0 && h.events.stop == nil
	})
	reads := b.statusReads.Load()
	time.Sleep(100 * time.Millisecond)
	if n := b.statusReads.Load() - reads; n != 0 {
		t.Errorf("%d reads of the status with no client", n)
	}
	// A new client starts the reads again.
	openStream(t, srv.URL).status(5 * time.Second)
}

// TestEvents_boundedClients: beyond maxClients a client is refused (503)
// until one goes.
func TestEvents_boundedClients(t *testing.T) {
	h := eventsHandler(quickstart(goldenNow), 2)
	srv := consoleServer(t, h)
	s1 := openStream(t, srv.URL)
	openStream(t, srv.URL)
	resp, err := http.Get(srv.URL + "/api/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("a third client: %d, want 503 with Retry-After", resp.StatusCode)
	}
	s1.cancel()
	waitFor(t, "a place to free up", func() bool {
		h.events.mu.Lock()
		defer h.events.mu.Unlock()
		return len(h.events.clients) == 1
	})
	openStream(t, srv.URL).status(5 * time.Second)
}

// TestEvents_serverLimits: on NewServer, a stream outlives the read and
// write timeouts that bound the other requests, and ends when the server
// shuts down, which then does not wait for it.
func TestEvents_serverLimits(t *testing.T) {
	h := eventsHandler(quickstart(goldenNow), 10)
	l := DefaultLimits(16)
	l.Read, l.Write = 200*time.Millisecond, 300*time.Millisecond
	srv := NewServer(h, l)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(LimitListener(ln, l)) }()
	s := openStream(t, "http://"+ln.Addr().String())
	s.status(5 * time.Second)
	// Past both timeouts the heartbeats still come.
	time.Sleep(600 * time.Millisecond)
	for name, _, ok := s.next(time.Second); name != ":"; name, _, ok = s.next(time.Second) {
		if !ok {
			t.Fatal("the stream ended at the server's timeouts")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v (after %v)", err, time.Since(start))
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatal(err)
	}
	if !s.ended(3 * time.Second) {
		t.Fatal("the stream did not end when the server shut down")
	}
	// A closed server's stream refuses new clients.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/events", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("a client after shutdown: %d, want 503", rec.Code)
	}
}
