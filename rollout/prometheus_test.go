package rollout

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakePrometheus answers the query API with body for every query.
func fakePrometheus(t *testing.T, body string, code int) string {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/api/v1/query") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return s.URL
}

func TestPrometheusGate_Check(t *testing.T) {
	vector := func(values ...string) string {
		var samples []string
		for i, v := range values {
			samples = append(samples, `{"metric":{"pod":"p`+string(rune('0'+i))+`"},"value":[1700000000,"`+v+`"]}`)
		}
		return `{"status":"success","data":{"resultType":"vector","result":[` + strings.Join(samples, ",") + `]}}`
	}
	tests := []struct {
		name    string
		body    string
		code    int
		failure string // substring; "" holds
		err     bool
	}{
		{"below the threshold", vector("0.01", "0.04"), 200, "", false},
		{"one series above", vector("0.01", "0.2"), 200, "= 0.2, above 0.05", false},
		{"a scalar", `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"0.5"]}}`, 200, "= 0.5", false},
		{"no data", vector(), 200, "returned no data", false},
		{"a bad query", `{"status":"error","errorType":"bad_data","error":"parse error"}`, 400, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := PrometheusGate{URL: fakePrometheus(t, tt.body, tt.code), Query: `sum(rate(errors[5m]))`, Max: 0.05}
			failure, err := g.Check(context.Background(), nil)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if (tt.failure == "") != (failure == "") || !strings.Contains(failure, tt.failure) {
				t.Errorf("failure %q, want %q", failure, tt.failure)
			}
		})
	}
	if _, err := (PrometheusGate{URL: "http://127.0.0.1:1", Query: "up"}).Check(context.Background(), nil); err == nil {
		t.Error("an unreachable Prometheus is not an error")
	}
}

// TestPrometheusGate_refusesRedirects: a redirect is not followed (the
// query would go to another host, which here says all is well): the gate
// is unknown.
func TestPrometheusGate_refusesRedirects(t *testing.T) {
	fine := fakePrometheus(t, `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"0"]}}`, 200)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, fine+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirect.Close)
	failure, err := PrometheusGate{URL: redirect.URL, Query: "up", Max: 1}.Check(context.Background(), nil)
	if !errors.Is(err, ErrGateRedirect) {
		t.Errorf("Check through a redirect: failure %q, err %v; want ErrGateRedirect", failure, err)
	}
}

// TestPrometheusGate_capsTheBody: a Prometheus streaming an endless body
// is read up to MaxGateResponse, not until the query's timeout.
func TestPrometheusGate_capsTheBody(t *testing.T) {
	endless := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[`))
		chunk := []byte(strings.Repeat(" ", 64<<10))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(endless.Close)
	start := time.Now()
	_, err := PrometheusGate{URL: endless.URL, Query: "up", Max: 1}.Check(context.Background(), nil)
	if !errors.Is(err, ErrGateResponseTooLarge) {
		t.Errorf("Check of an endless body: err %v, want ErrGateResponseTooLarge", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Check took %s", took)
	}
}
