package daemon

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/digitops/digitops/daemon/web"
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
	if err := s.set(t.Context(), "dev", "", true); err != nil {
		t.Fatal(err)
	}
	s.path = filepath.Join(blocker, "suspended.json") // its directory is a file
	since := time.Now()
	if err := s.set(t.Context(), "prod", "", true); err == nil {
		t.Fatal("saving under a file succeeded")
	}
	if err := s.set(t.Context(), "dev", "egov-user", true); err == nil {
		t.Fatal("saving under a file succeeded")
	}
	if err := s.set(t.Context(), "dev", "", false); err == nil {
		t.Fatal("saving under a file succeeded")
	}
	if s.environment("prod") || s.release("dev", "egov-user") || !s.environment("dev") || s.changedSince("dev", since) || s.changedSince("prod", since) {
		t.Errorf("a failed save changed the suspensions in memory: %+v", s.state)
	}
	if _, err := os.Stat(filepath.Join(dir, "suspended.json.tmp")); err == nil {
		t.Error("a temporary file was left behind")
	}
}

// serveWithin serves the daemon's handler on a local port within limits,
// until the test ends, and returns its address.
func serveWithin(t *testing.T, d *Daemon, limits web.Limits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := web.NewServer(d.Handler(), limits)
	go func() { _ = srv.Serve(web.LimitListener(ln, limits)) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// TestHTTP_slowClientIsCut: a client trickling a webhook body is cut at
// the read timeout instead of holding its connection (and a file
// descriptor) for as long as it likes.
func TestHTTP_slowClientIsCut(t *testing.T) {
	d, _ := hookDaemon(t, WebhookSecrets{Generic: "s"})
	limits := web.DefaultLimits(16)
	limits.ReadHeader, limits.Read = 200*time.Millisecond, 300*time.Millisecond
	addr := serveWithin(t, d, limits)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = io.WriteString(conn, "POST /hooks/generic HTTP/1.1\r\nHost: digitops\r\nContent-Length: 100\r\n"+
		"X-Signature-256: sha256="+strings.Repeat("0", 64)+"\r\n\r\n{")
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(conn) // a response then EOF, or a reset: the server let go
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server still held the connection after %s", time.Since(start))
	}
}

// TestHTTP_connectionLimit: beyond the connection limit a new connection
// waits until one closes; it is served then.
func TestHTTP_connectionLimit(t *testing.T) {
	d, _ := hookDaemon(t, WebhookSecrets{})
	limits := web.DefaultLimits(2)
	addr := serveWithin(t, d, limits)
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	healthz := func(timeout time.Duration) error {
		c, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(timeout))
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: digitops\r\nConnection: close\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	if err := healthz(300 * time.Millisecond); err == nil {
		t.Fatal("a third connection was served while two were open, with a limit of 2")
	}
	held[0].Close()
	if err := healthz(2 * time.Second); err != nil {
		t.Fatalf("once a connection closed, the next was not served: %v", err)
	}
}

// TestSuspend_rollbackMark: a rollback suspends its release and marks it;
// the mark survives a restart, holds while the release is suspended
// (resuming its environment does not end it) and goes with the release's
// resume.
func TestSuspend_rollbackMark(t *testing.T) {
	path := filepath.Join(t.TempDir(), "suspended.json")
	s, err := loadSuspensions(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.rollBack(t.Context(), "dev", "egov-user", 1, at); err != nil {
		t.Fatal(err)
	}
	if err := s.rollBack(t.Context(), "dev", "pgr-services", 4, at); err != nil {
		t.Fatal(err)
	}
	if err := s.forgetRollback(t.Context(), "dev", "pgr-services"); err != nil {
		t.Fatal(err)
	}
	if err := s.set(t.Context(), "dev", "", true); err != nil {
		t.Fatal(err)
	}
	if err := s.set(t.Context(), "dev", "", false); err != nil {
		t.Fatal(err)
	}
	s, err = loadSuspensions(path) // a restart
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := s.rolledBack("dev", "egov-user"); !ok || m.To != 1 || !m.At.Equal(at) || !s.release("dev", "egov-user") {
		t.Errorf("after a restart egov-user: mark %+v %v, suspended %v; want rolled back to 1, suspended", m, ok, s.release("dev", "egov-user"))
	}
	if _, ok := s.rolledBack("dev", "pgr-services"); ok || !s.release("dev", "pgr-services") {
		t.Errorf("a forgotten rollback: marked %v, suspended %v; want no mark, still suspended", ok, s.release("dev", "pgr-services"))
	}
	if err := s.set(t.Context(), "dev", "egov-user", false); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.rolledBack("dev", "egov-user"); ok || s.release("dev", "egov-user") {
		t.Error("resuming the release kept its rollback mark or suspension")
	}
	if len(s.state.RolledBack) != 0 {
		t.Errorf("marks left: %+v", s.state.RolledBack)
	}
}
