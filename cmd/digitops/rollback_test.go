package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/digitops/digitops/daemon/web"
	"github.com/digitops/digitops/internal/statusapi"
)

// consoleBackend is a daemon's API that records the sync and rollback it
// is asked for; the other endpoints are never called.
type consoleBackend struct {
	web.Backend
	asked []string
}

// Route answers here: one replica, no --shard.
func (b *consoleBackend) Route(string) (string, bool) { return "", true }

func (b *consoleBackend) SyncNow(_ context.Context, env, release string) (statusapi.Environment, error) {
	b.asked = append(b.asked, "sync "+env+" "+release)
	return statusapi.Environment{Name: env, Phase: statusapi.PhaseInSync}, nil
}

func (b *consoleBackend) Rollback(_ context.Context, env, release string, to int) (statusapi.ReleaseDetail, error) {
	b.asked = append(b.asked, "rollback "+env+" "+release)
	if to != 1 {
		return statusapi.ReleaseDetail{}, web.NotFound("release egov-user has no revision 9")
	}
	return statusapi.ReleaseDetail{Environment: env, Release: statusapi.Release{Name: release, Suspended: true},
		Revisions: []statusapi.HelmRevision{{Revision: 3, Status: "deployed", Description: "Rollback to 1"}}, RolledBack: &statusapi.RolledBack{To: to}}, nil
}

// TestSyncAndRollbackCommands: digitops sync and digitops rollback through
// the daemon's real handler, with the token; their errors.
func TestSyncAndRollbackCommands(t *testing.T) {
	ctx := context.Background()
	backend := &consoleBackend{}
	srv := httptest.NewServer(web.NewHandler(backend, web.Options{Registry: prometheus.NewRegistry(), APIToken: "tok", Log: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		args  []string // the command line, without --server
		code  int      // the exit code
		out   string   // stdout, or a part of stderr on failure
		asked string   // what the daemon was asked, "" nothing
	}{
		{[]string{"sync", "dev", "--token", "tok"}, 0, "dev: sync asked (environment phase in-sync)\n", "sync dev "},
		{[]string{"sync", "dev", "egov-user", "--token", "tok"}, 0, "dev/egov-user: sync asked (environment phase in-sync)\n", "sync dev egov-user"},
		{[]string{"sync", "dev"}, 1, "401 Unauthorized", ""},
		{[]string{"rollback", "dev", "egov-user", "1", "--token", "tok"}, 0, "dev/egov-user: rolled back to revision 1 (Helm revision 3, deployed); suspended until `digitops resume dev egov-user`\n", "rollback dev egov-user"},
		{[]string{"rollback", "dev", "egov-user", "9", "--token", "tok"}, 1, "404 Not Found: release egov-user has no revision 9", "rollback dev egov-user"},
		{[]string{"rollback", "dev", "egov-user", "one", "--token", "tok"}, 1, `REVISION "one" is not a Helm revision`, ""},
		{[]string{"rollback", "dev", "egov-user", "0", "--token", "tok"}, 1, `REVISION "0" is not a Helm revision`, ""},
		{[]string{"rollback", "dev", "egov-user"}, 1, "accepts 3 arg(s)", ""},
	} {
		backend.asked = nil
		r := runCLI(t, ctx, append(tc.args, "--server", srv.URL)...)
		got := r.out
		if tc.code != 0 {
			got = r.stderr
		}
		if r.code != tc.code || (tc.code == 0 && got != tc.out) || !strings.Contains(got, tc.out) {
			t.Errorf("%v: exit %d, %q; want exit %d and %q", tc.args, r.code, got, tc.code, tc.out)
		}
		if asked := strings.Join(backend.asked, "; "); asked != tc.asked {
			t.Errorf("%v: the daemon was asked %q, want %q", tc.args, asked, tc.asked)
		}
	}
}
