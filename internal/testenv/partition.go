package testenv

import (
	"errors"
	"net/http"
	"sync/atomic"

	"k8s.io/client-go/rest"
)

// Partition is a fault injector between a client and the apiserver: once
// cut, every request fails at once, as when a replica is partitioned from
// the apiserver (or killed: its Leases are never released).
type Partition struct {
	next http.RoundTripper
	cut  atomic.Bool
}

// ErrPartitioned is the error of every request once the partition is cut.
var ErrPartitioned = errors.New("partitioned from the apiserver")

// Config returns a copy of cfg whose requests go through p, with a rate
// limit high enough for a replica renewing many Leases (as serve --shard's
// client has).
func (p *Partition) Config(cfg *rest.Config) *rest.Config {
	out := rest.CopyConfig(cfg)
	out.QPS, out.Burst = 100, 200
	out.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { p.next = rt; return p }
	return out
}

// Cut makes every later request fail.
func (p *Partition) Cut() { p.cut.Store(true) }

// RoundTrip implements http.RoundTripper.
func (p *Partition) RoundTrip(r *http.Request) (*http.Response, error) {
	if p.cut.Load() {
		return nil, ErrPartitioned
	}
	return p.next.RoundTrip(r)
}
