package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"
)

// Results of a send, the values of digitops_notifications_total's result.
const (
	ResultSent         = "sent"
	ResultFailed       = "failed"
	ResultDropped      = "dropped"
	ResultDeduplicated = "deduplicated"
)

// QueueOptions configure a Queue.
type QueueOptions struct {
	// Size bounds the events waiting; 256 when zero.
	Size int
	// Attempts per send; 4 when zero.
	Attempts int
	// Backoff is the wait after the first failed attempt, doubled after
	// each; 1s when zero.
	Backoff time.Duration
	// Remember is how many sent notifications are remembered to send each
	// only once; 4096 when zero.
	Remember int
	// Count, when set, counts each send by provider and result.
	Count func(provider, result string)
	// Log receives failures.
	Log *slog.Logger
}

// Queue sends events in the background. Notify never blocks.
type Queue struct {
	opts  QueueOptions
	items chan item
	// sent remembers recent notifications (key → state sent), oldest
	// first.
	sent  map[string]string
	order []string
}

type item struct {
	providers []Provider
	event     Event
}

// NewQueue returns a queue; Run sends what it holds.
func NewQueue(opts QueueOptions) *Queue {
	if opts.Size <= 0 {
		opts.Size = 256
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 4
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	if opts.Remember <= 0 {
		opts.Remember = 4096
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Queue{opts: opts, items: make(chan item, opts.Size), sent: map[string]string{}}
}

// Notify queues e for the providers that want it; when the queue is full
// the event is dropped and counted, never waited for.
func (q *Queue) Notify(providers []Provider, e Event) {
	var want []Provider
	for _, p := range providers {
		if _, status := p.(commitStatuser); status && e.Commit == "" {
			continue // no commit to set a status on (the fetch failed)
		}
		if p.Wants(e.Kind) {
			want = append(want, p)
		}
	}
	if len(want) == 0 {
		return
	}
	select {
	case q.items <- item{providers: want, event: e}:
	default:
		for _, p := range want {
			q.count(p.Name(), ResultDropped)
		}
	}
}

// Run sends queued events until ctx ends.
func (q *Queue) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case it := <-q.items:
			for _, p := range it.providers {
				q.send(ctx, p, it.event)
			}
		}
	}
}

// Flush sends the events still queued, one attempt each, until the queue
// is empty or ctx ends: a stopping daemon's last events.
func (q *Queue) Flush(ctx context.Context) {
	for ctx.Err() == nil {
		select {
		case it := <-q.items:
			for _, p := range it.providers {
				q.sendAttempts(ctx, p, it.event, 1)
			}
		default:
			return
		}
	}
}

// send delivers e once per provider and key, with retries; a refusal
// (a 4xx other than 408 and 429) is not retried.
func (q *Queue) send(ctx context.Context, p Provider, e Event) {
	q.sendAttempts(ctx, p, e, q.opts.Attempts)
}

func (q *Queue) sendAttempts(ctx context.Context, p Provider, e Event, attempts int) {
	key, state := dedupeKey(p, e)
	if sent, ok := q.sent[key]; ok && sent == state {
		q.count(p.Name(), ResultDeduplicated)
		return
	}
	wait := q.opts.Backoff
	var err error
	for attempt := 1; attempt <= attempts; attempt++ {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = p.Send(sctx, e)
		cancel()
		if err == nil {
			q.remember(key, state)
			q.count(p.Name(), ResultSent)
			return
		}
		if attempt == attempts || !retryable(err) {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait *= 2
	}
	q.count(p.Name(), ResultFailed)
	q.opts.Log.Warn("notification not sent", "provider", p.Name(), "environment", e.Environment, "event", string(e.Kind), "error", err)
}

func (q *Queue) remember(key, state string) {
	if _, ok := q.sent[key]; !ok {
		q.order = append(q.order, key)
	}
	q.sent[key] = state
	if len(q.order) > q.opts.Remember {
		delete(q.sent, q.order[0])
		q.order = q.order[1:]
	}
}

func (q *Queue) count(provider, result string) {
	if q.opts.Count != nil {
		q.opts.Count(provider, result)
	}
}

// dedupeKey is what makes two sends the same notification, and the state
// sent. A commit status is one per provider, environment and commit: it is
// sent again only when its state changes (pending, success, failure), so a
// sync failing then succeeding again on one revision ends green. Any other
// event is sent once per provider and event (kind, revision, releases,
// drift). The provider is told apart by a hash of its settings (two
// webhooks, two repositories): never the settings themselves.
func dedupeKey(p Provider, e Event) (key, state string) {
	sum := sha256.Sum256(fmt.Appendf(nil, "%T%+v", p, p))
	id := hex.EncodeToString(sum[:8])
	if _, ok := p.(commitStatuser); ok {
		st, _ := commitState(e.Kind)
		return id + "\x00" + e.Environment + "\x00" + e.Commit, st
	}
	return id + "\x00" + e.key(), ""
}
