package kube

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Requests counts API requests by HTTP verb (GET, POST, PUT, PATCH, DELETE).
// A dry-run request counts as the write it simulates.
type Requests map[string]int

// writeVerbs are the verbs that change (or, with dryRun, could change) the
// cluster.
var writeVerbs = []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// Writes is the number of write requests (POST, PUT, PATCH, DELETE).
func (r Requests) Writes() int {
	n := 0
	for _, v := range writeVerbs {
		n += r[v]
	}
	return n
}

// Total is the number of requests.
func (r Requests) Total() int {
	n := 0
	for _, c := range r {
		n += c
	}
	return n
}

// Since returns the requests made after before was taken: r minus before,
// keeping only verbs with a positive count.
func (r Requests) Since(before Requests) Requests {
	out := Requests{}
	for verb, n := range r {
		if d := n - before[verb]; d > 0 {
			out[verb] = d
		}
	}
	return out
}

// String renders the counts as "GET=3 PATCH=1", sorted by verb.
func (r Requests) String() string {
	verbs := make([]string, 0, len(r))
	for v := range r {
		verbs = append(verbs, v)
	}
	sort.Strings(verbs)
	parts := make([]string, len(verbs))
	for i, v := range verbs {
		parts[i] = v + "=" + strconv.Itoa(r[v])
	}
	return strings.Join(parts, " ")
}

// RequestCounter counts the requests that go through the transports of one
// Cluster (every client digitops and Helm build from its rest.Config).
type RequestCounter struct {
	mu     sync.Mutex
	counts Requests
}

// NewRequestCounter returns a counter at zero; wrap a rest.Config with its
// Wrap to count that config's requests.
func NewRequestCounter() *RequestCounter { return &RequestCounter{counts: Requests{}} }

// wrap is a rest.Config WrapTransport.
// Wrap is a rest.Config WrapTransport that counts requests by verb.
func (c *RequestCounter) Wrap(rt http.RoundTripper) http.RoundTripper {
	return requestCountingTransport{next: rt, counter: c}
}

func (c *RequestCounter) add(verb string) {
	c.mu.Lock()
	c.counts[verb]++
	c.mu.Unlock()
}

// Snapshot returns the counts so far.
func (c *RequestCounter) Snapshot() Requests {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(Requests, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

type requestCountingTransport struct {
	next    http.RoundTripper
	counter *RequestCounter
}

func (t requestCountingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.counter.add(req.Method)
	return t.next.RoundTrip(req)
}

// Requests returns the number of API requests made through this cluster's
// clients (digitops's and Helm's) since it was built, by verb. Take it
// before and after a sync and subtract with [Requests.Since]; with several
// environments syncing against one cluster at once, the difference includes
// their requests too.
func (c *Cluster) Requests() Requests {
	if c.requests == nil {
		return Requests{}
	}
	return c.requests.Snapshot()
}
