package web

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/digitops/digitops/internal/statusapi"
)

// consoleBackend is a Backend with one environment, dev, and one release,
// egov-user, at revisions 1 to 3; it records what it was asked.
type consoleBackend struct {
	Backend
	calls *[]string
}

func (b consoleBackend) Route(string) (string, bool) { return "", true }

func (b consoleBackend) EnvironmentDetail(_ context.Context, env string) (statusapi.EnvironmentDetail, error) {
	*b.calls = append(*b.calls, "detail "+env)
	if env != "dev" {
		return statusapi.EnvironmentDetail{}, NotFound("no environment " + env)
	}
	return statusapi.EnvironmentDetail{Environment: statusapi.Environment{Name: env}, Pending: []statusapi.PendingChange{{Release: "egov-user", Action: "upgrade", Diff: "~ Deployment/egov/egov-user (changed)\n"}}}, nil
}

func (b consoleBackend) ReleaseDetail(_ context.Context, env, release string) (statusapi.ReleaseDetail, error) {
	*b.calls = append(*b.calls, "release "+env+"/"+release)
	if env != "dev" || release != "egov-user" {
		return statusapi.ReleaseDetail{}, NotFound("no release " + release)
	}
	return statusapi.ReleaseDetail{Environment: env, Release: statusapi.Release{Name: release}, Revisions: []statusapi.HelmRevision{{Revision: 3}, {Revision: 2}, {Revision: 1}}}, nil
}

func (b consoleBackend) SyncNow(_ context.Context, env, release string) (statusapi.Environment, error) {
	*b.calls = append(*b.calls, "sync "+env+"/"+release)
	if env != "dev" {
		return statusapi.Environment{}, NotFound("no environment " + env)
	}
	return statusapi.Environment{Name: env}, nil
}

func (b consoleBackend) Rollback(_ context.Context, env, release string, to int) (statusapi.ReleaseDetail, error) {
	*b.calls = append(*b.calls, "rollback "+env+"/"+release+" "+strings.Repeat("I", to))
	switch {
	case env != "dev" || release != "egov-user" || to > 3:
		return statusapi.ReleaseDetail{}, NotFound("no such release or revision")
	case to == 2:
		return statusapi.ReleaseDetail{}, Conflict("release egov-user is pending-upgrade")
	}
	return statusapi.ReleaseDetail{Environment: env, Release: statusapi.Release{Name: release, Suspended: true}, RolledBack: &statusapi.RolledBack{To: to}}, nil
}

// TestConsole_routes: the console's endpoints, their token, their errors
// and the rollback's body.
func TestConsole_routes(t *testing.T) {
	const tok = "tok"
	for _, tc := range []struct {
		name         string
		method, path string
		token        string // "" sends none
		body         string // the request body
		want         int    // the status code
		wantIn       string // a part of the answer
		wantCall     string // what the backend was asked, "" nothing
	}{
		{"environment detail, no token needed", "GET", "/api/v1/environments/dev", "", "", 200, `"pending": [`, "detail dev"},
		{"environment detail of an unknown one", "GET", "/api/v1/environments/nope", "", "", 404, "no environment nope", "detail nope"},
		{"release detail", "GET", "/api/v1/environments/dev/releases/egov-user", "", "", 200, `"revisions": [`, "release dev/egov-user"},
		{"release detail of an unknown one", "GET", "/api/v1/environments/dev/releases/nope", "", "", 404, "no release nope", "release dev/nope"},
		{"sync without a token", "POST", "/api/v1/environments/dev/sync", "", "", 401, "unauthorized", ""},
		{"sync with a wrong token", "POST", "/api/v1/environments/dev/sync", "nope", "", 401, "unauthorized", ""},
		{"sync", "POST", "/api/v1/environments/dev/sync", tok, "", 200, `"name": "dev"`, "sync dev/"},
		{"sync of a release", "POST", "/api/v1/environments/dev/releases/egov-user/sync", tok, "", 200, `"name": "dev"`, "sync dev/egov-user"},
		{"sync of an unknown environment", "POST", "/api/v1/environments/nope/sync", tok, "", 404, "no environment", "sync nope/"},
		{"sync by GET", "GET", "/api/v1/environments/dev/sync", tok, "", 405, "", ""},
		{"rollback without a token", "POST", "/api/v1/environments/dev/releases/egov-user/rollback", "", `{"revision": 1}`, 401, "unauthorized", ""},
		{"rollback", "POST", "/api/v1/environments/dev/releases/egov-user/rollback", tok, `{"revision": 1}`, 200, `"rolledBack": {`, "rollback dev/egov-user I"},
		{"rollback to an unknown revision", "POST", "/api/v1/environments/dev/releases/egov-user/rollback", tok, `{"revision": 7}`, 404, "no such", "rollback dev/egov-user IIIIIII"},
		{"rollback of a pending release", "POST", "/api/v1/environments/dev/releases/egov-user/rollback", tok, `{"revision": 2}`, 409, "pending-upgrade", "rollback dev/egov-user II"},
		{"rollback without a body", "POST", "/api/v1/environments/dev/releases/egov-user/rollback", tok, "", 400, "revision", ""},
		{"rollback to revision 0", "POST", "/api/v1/environments/dev/releases/egov-user/rollback", tok, `{"revision": 0}`, 400, "from 1", ""},
		{"rollback with an unknown field", "POST", "/api/v1/environments/dev/releases/egov-user/rollback", tok, `{"revision": 1, "force": true}`, 400, "force", ""},
		{"rollback with two objects", "POST", "/api/v1/environments/dev/releases/egov-user/rollback", tok, `{"revision": 1} {"revision": 2}`, 400, "more follows", ""},
		{"rollback with a string", "POST", "/api/v1/environments/dev/releases/egov-user/rollback", tok, `{"revision": "1"}`, 400, "revision", ""},
		{"rollback with a body over 4 KiB", "POST", "/api/v1/environments/dev/releases/egov-user/rollback", tok, `{"revision": 1` + strings.Repeat(" ", 5000) + `}`, 413, "over 4096 bytes", ""},
		{"rollback with 4 KiB after the object", "POST", "/api/v1/environments/dev/releases/egov-user/rollback", tok, `{"revision": 1} "` + strings.Repeat("x", 5000) + `"`, 413, "over 4096 bytes", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls []string
			h := NewHandler(consoleBackend{calls: &calls}, Options{Registry: prometheus.NewRegistry(), APIToken: tok, Log: slog.New(slog.DiscardHandler)})
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want || !strings.Contains(rec.Body.String(), tc.wantIn) {
				t.Errorf("%s %s: %d %q, want %d containing %q", tc.method, tc.path, rec.Code, rec.Body.String(), tc.want, tc.wantIn)
			}
			if got := strings.Join(calls, "; "); got != tc.wantCall {
				t.Errorf("backend asked %q, want %q", got, tc.wantCall)
			}
			if rec.Code == http.StatusOK && !json.Valid(rec.Body.Bytes()) {
				t.Errorf("answer is not JSON: %s", rec.Body.String())
			}
		})
	}
}

// TestConsole_routedToOwner: with --shard the details, sync and rollback
// of an environment another replica owns are answered there, the
// rollback's body and token forwarded as they came.
func TestConsole_routedToOwner(t *testing.T) {
	type seen struct{ method, path, auth, body string }
	got := make(chan seen, 8)
	owner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.Path, r.Header.Get("Authorization"), string(b)}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"owner":"there"}`))
	}))
	t.Cleanup(owner.Close)
	h := NewHandler(shardBackend{owner: owner.URL}, Options{Registry: prometheus.NewRegistry(), APIToken: "tok", Log: slog.New(slog.DiscardHandler)})
	for _, tc := range []struct {
		method, path, body string
	}{
		{"GET", "/api/v1/environments/theirs", ""},
		{"GET", "/api/v1/environments/theirs/releases/egov-user", ""},
		{"POST", "/api/v1/environments/theirs/sync", ""},
		{"POST", "/api/v1/environments/theirs/releases/egov-user/rollback", `{"revision": 2}`},
	} {
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer tok")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "there") {
			t.Fatalf("%s %s: %d %s", tc.method, tc.path, rec.Code, rec.Body.String())
		}
		if s := <-got; s.method != tc.method || s.path != tc.path || s.auth != "Bearer tok" || s.body != tc.body {
			t.Errorf("the owner got %+v, want %s %s with the token and body %q", s, tc.method, tc.path, tc.body)
		}
	}
}
