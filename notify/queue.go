package notify

import (
	"context"
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
	// sent remembers recent notifications, oldest first.
	sent  map[string]bool
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
	return &Queue{opts: opts, items: make(chan item, opts.Size), sent: map[string]bool{}}
}

// Notify queues e for the providers that want it; when the queue is full
// the event is dropped and counted, never waited for.
func (q *Queue) Notify(providers []Provider, e Event) {
	var want []Provider
	for _, p := range providers {
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

// send delivers e once per provider and key, with retries.
func (q *Queue) send(ctx context.Context, p Provider, e Event) {
	key := p.Name() + "\x00" + e.key()
	if q.sent[key] {
		q.count(p.Name(), ResultDeduplicated)
		return
	}
	wait := q.opts.Backoff
	var err error
	for attempt := 1; attempt <= q.opts.Attempts; attempt++ {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = p.Send(sctx, e)
		cancel()
		if err == nil {
			q.remember(key)
			q.count(p.Name(), ResultSent)
			return
		}
		if attempt == q.opts.Attempts {
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
	q.opts.Log.Warn("notification not sent", "provider", p.Name(), "environment", e.Environment, "event", string(e.Kind), "attempts", q.opts.Attempts, "error", err)
}

func (q *Queue) remember(key string) {
	q.sent[key] = true
	q.order = append(q.order, key)
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
