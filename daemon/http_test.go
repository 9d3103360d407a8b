package daemon

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestHTTP_authorization: a change needs "Authorization: Bearer <token>";
// the bare token or another scheme is refused before the handler runs.
func TestHTTP_authorization(t *testing.T) {
	const token = "t0ken"
	tests := []struct {
		name   string // what the case shows
		header string // the Authorization header; "" sends none
		want   int    // the status code (404: authorized, no such environment)
	}{
		{"bearer token", "Bearer " + token, http.StatusNotFound},
		{"scheme in lower case", "bearer " + token, http.StatusNotFound},
		{"bare token", token, http.StatusUnauthorized},
		{"another scheme", "Basic " + token, http.StatusUnauthorized},
		{"wrong token", "Bearer nope", http.StatusUnauthorized},
		{"bearer without a token", "Bearer ", http.StatusUnauthorized},
		{"none", "", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := hookDaemon(t, WebhookSecrets{})
			d.opts.APIToken = token
			req := httptest.NewRequest(http.MethodPost, "/api/v1/environments/nowhere/suspend", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			rec := httptest.NewRecorder()
			d.Handler().ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("status = %d, want %d (%s)", rec.Code, tt.want, rec.Body.String())
			}
		})
	}
}

// TestSuspend_allOrNothing: when suspended.json cannot be written, suspend
// fails and nothing is suspended, in memory either.
func TestSuspend_allOrNothing(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := loadSuspensions(filepath.Join(dir, "suspended.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.set("dev", "", true); err != nil {
		t.Fatal(err)
	}
	s.path = filepath.Join(blocker, "suspended.json") // its directory is a file
	since := time.Now()
	if err := s.set("prod", "", true); err == nil {
		t.Fatal("saving under a file succeeded")
	}
	if err := s.set("dev", "egov-user", true); err == nil {
		t.Fatal("saving under a file succeeded")
	}
	if err := s.set("dev", "", false); err == nil {
		t.Fatal("saving under a file succeeded")
	}
	if s.environment("prod") || s.release("dev", "egov-user") || !s.environment("dev") || s.changedSince("dev", since) || s.changedSince("prod", since) {
		t.Errorf("a failed save changed the suspensions in memory: %+v", s.state)
	}
	if _, err := os.Stat(filepath.Join(dir, "suspended.json.tmp")); err == nil {
		t.Error("a temporary file was left behind")
	}
}
