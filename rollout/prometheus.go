package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// PrometheusGate is a query whose value (a scalar, or the largest sample of
// a vector) must stay at or below Max while a wave soaks.
type PrometheusGate struct {
	URL   string
	Query string
	Max   float64
}

// MaxGateResponse is the largest Prometheus response a gate reads; a
// longer one is an error (the gate is unknown), not read to the end.
const MaxGateResponse = 8 << 20

// ErrGateResponseTooLarge is a Prometheus response longer than
// MaxGateResponse.
var ErrGateResponseTooLarge = fmt.Errorf("response larger than %d bytes", MaxGateResponse)

// ErrGateRedirect is a redirect answered by Prometheus: it is not followed,
// so the query (and any credentials of the URL) only go to the host
// configured.
var ErrGateRedirect = errors.New("redirect refused: set the gate's url to the address Prometheus answers at")

// Check runs the query once, through client_golang's API client. failure
// says why the gate does not hold ("" when it holds); err is a query that
// could not be run (Prometheus unreachable, a bad query, a redirect, a
// response larger than MaxGateResponse), which holds the wave where it is
// without halting it. An empty result does not hold: write `or vector(0)`
// when no series means fine.
func (g PrometheusGate) Check(ctx context.Context, rt http.RoundTripper) (failure string, err error) {
	if rt == nil {
		rt = http.DefaultTransport
	}
	client := &http.Client{
		Transport: cappedBody{rt: rt, max: MaxGateResponse},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return ErrGateRedirect
		},
	}
	c, err := api.NewClient(api.Config{Address: g.URL, Client: client})
	if err != nil {
		return "", fmt.Errorf("prometheus gate: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, _, _, err := promv1.NewAPI(c).Query(ctx, g.Query, time.Now())
	if err != nil {
		return "", fmt.Errorf("prometheus gate: query %q: %w", g.Query, err)
	}
	value, ok := largest(v)
	switch {
	case !ok:
		return fmt.Sprintf("query %q returned no data", g.Query), nil
	case value > g.Max:
		return fmt.Sprintf("query %q = %g, above %g", g.Query, value, g.Max), nil
	}
	return "", nil
}

// largest is a scalar's value or a vector's largest sample.
func largest(v model.Value) (float64, bool) {
	switch v := v.(type) {
	case *model.Scalar:
		return float64(v.Value), true
	case model.Vector:
		if len(v) == 0 {
			return 0, false
		}
		m := float64(v[0].Value)
		for _, s := range v[1:] {
			m = max(m, float64(s.Value))
		}
		return m, true
	}
	return 0, false
}

// cappedBody is a transport whose response bodies fail past max bytes.
type cappedBody struct {
	rt  http.RoundTripper
	max int64
}

func (c cappedBody) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: c.max}
	return resp, nil
}

// limitedBody reads at most left bytes of rc, then fails with
// ErrGateResponseTooLarge when there is more.
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, ErrGateResponseTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
