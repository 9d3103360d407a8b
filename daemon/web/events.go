package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/digitops/digitops/internal/statusapi"
)

// Defaults of the event stream (GET /api/v1/events).
const (
	// eventsPoll is how often the status is read while a client listens.
	eventsPoll = time.Second
	// eventsHeartbeat is how often an idle stream sends a comment, so
	// that proxies keep it open and a gone client is noticed.
	eventsHeartbeat = 15 * time.Second
	// maxEventClients bounds the streams open at once (503 beyond): each
	// holds a connection of the server's Limits.MaxConns.
	maxEventClients = 100
	// eventsWriteTimeout bounds one write to a client.
	eventsWriteTimeout = 10 * time.Second
	// eventsStatusTimeout bounds one read of the status (serve --shard
	// asks the other replicas).
	eventsStatusTimeout = 5 * time.Second
)

// errTooManyClients refuses a stream beyond maxEventClients; errClosed
// one after the server began to shut down.
var (
	errTooManyClients = errors.New("too many clients of the event stream; try again later")
	errClosed         = errors.New("the server is shutting down")
)

// statusEvents reads the status once per poll for all the clients of the
// event stream, in one goroutine that runs while any listens, and hands
// each client the status when it changed. A client that reads slowly gets
// the latest status, never a queue.
type statusEvents struct {
	status     func(context.Context) statusapi.Status
	poll       time.Duration
	maxClients int

	mu      sync.Mutex
	clients map[*eventClient]struct{}
	// stop stops the poller; nil while none runs.
	stop func()
	// last is the status the poller last sent, nil before its first read.
	last []byte
	// closed is closed when the server shuts down: the streams end.
	closed   chan struct{}
	isClosed bool
}

// eventClient is one stream's mailbox: the latest status not sent yet.
type eventClient struct {
	next chan []byte
}

func newStatusEvents(status func(context.Context) statusapi.Status, poll time.Duration, maxClients int) *statusEvents {
	return &statusEvents{status: status, poll: poll, maxClients: maxClients,
		clients: map[*eventClient]struct{}{}, closed: make(chan struct{})}
}

// subscribe adds a client, which gets the last status at once (when the
// poller has one) and every change after; the first client starts the
// poller.
func (s *statusEvents) subscribe() (*eventClient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.isClosed:
		return nil, errClosed
	case len(s.clients) >= s.maxClients:
		return nil, errTooManyClients
	}
	c := &eventClient{next: make(chan []byte, 1)}
	s.clients[c] = struct{}{}
	if s.last != nil {
		c.next <- s.last
	}
	if s.stop == nil {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.run(ctx)
		}()
		s.stop = func() { cancel(); <-done }
	}
	return c, nil
}

// unsubscribe removes a client; the last one stops the poller.
func (s *statusEvents) unsubscribe(c *eventClient) {
	s.mu.Lock()
	delete(s.clients, c)
	var stop func()
	if len(s.clients) == 0 && s.stop != nil {
		stop, s.stop, s.last = s.stop, nil, nil
	}
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// close ends every stream and refuses new ones (the server shuts down).
func (s *statusEvents) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.isClosed {
		s.isClosed = true
		close(s.closed)
	}
}

// run reads the status at once and then every poll until ctx ends, and
// hands it to every client when it changed.
func (s *statusEvents) run(ctx context.Context) {
	t := time.NewTicker(s.poll)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, eventsStatusTimeout)
		st := s.status(rctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if b, err := json.Marshal(st); err == nil {
			s.publish(ctx, b)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// publish hands b to every client unless it is the status last handed.
func (s *statusEvents) publish(ctx context.Context, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ctx.Err() != nil || bytes.Equal(b, s.last) {
		return
	}
	s.last = b
	for c := range s.clients {
		select { // drop the status it has not read yet: this one is newer
		case <-c.next:
		default:
		}
		c.next <- b
	}
}

// serveEvents streams the status as server-sent events: "event: status"
// with the status JSON at once and whenever it changes, a comment every
// heartbeat, until the client goes or the server shuts down.
func (h *handler) serveEvents(w http.ResponseWriter, r *http.Request) {
	c, err := h.events.subscribe()
	if err != nil {
		w.Header().Set("Retry-After", "10")
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer h.events.unsubscribe(c)
	rc := http.NewResponseController(w)
	// The server's read timeout would end the stream (the connection's
	// read deadline cancels the request): a stream reads nothing more.
	_ = rc.SetReadDeadline(time.Time{})
	header := w.Header()
	header.Set("Content-Type", "text/event-stream")
	header.Set("Cache-Control", "no-store")
	header.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	send := func(chunks ...[]byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(eventsWriteTimeout))
		for _, b := range chunks {
			if _, err := w.Write(b); err != nil {
				return false
			}
		}
		return rc.Flush() == nil
	}
	if !send([]byte("retry: 5000\n\n")) {
		return
	}
	heartbeat := time.NewTicker(h.heartbeat)
	defer heartbeat.Stop()
	for {
		var ok bool
		select {
		case <-r.Context().Done():
			return
		case <-h.events.closed:
			return
		case b := <-c.next:
			ok = send([]byte("event: status\ndata: "), b, []byte("\n\n"))
		case <-heartbeat.C:
			ok = send([]byte(": heartbeat\n\n"))
		}
		if !ok {
			return
		}
	}
}
