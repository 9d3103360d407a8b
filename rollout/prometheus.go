package rollout

import (
	"context"
	"fmt"
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

// Check runs the query once, through client_golang's API client. failure
// says why the gate does not hold ("" when it holds); err is a query that
// could not be run (Prometheus unreachable, a bad query), which holds the
// wave where it is without halting it. An empty result does not hold:
// write `or vector(0)` when no series means fine.
func (g PrometheusGate) Check(ctx context.Context, rt http.RoundTripper) (failure string, err error) {
	c, err := api.NewClient(api.Config{Address: g.URL, RoundTripper: rt})
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
