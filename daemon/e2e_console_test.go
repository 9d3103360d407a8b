package daemon_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/digitops/digitops/daemon"
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/internal/testenv"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// TestDaemon_consoleViews renders the console's views from a real daemon on
// examples/quickstart: the overview lists dev, the environment view its four
// releases in sync and its first sync in the history, the release view
// egov-user; an unknown environment is a 404 page; sync now (token
// required) adds a manual sync to the history; and after a restart on a
// fresh cache the history rows are still on the environment view.
func TestDaemon_consoleViews(t *testing.T) {
	tenv := testenv.ForTest(t, testenv.Options{})
	g := quickstartRepo(t)
	opts := daemon.Options{
		Sources: []daemon.SourceOptions{{URL: g.dir}},
		Cluster: func(context.Context, manifest.ClusterRef) (*kube.Cluster, error) {
			return kube.NewCluster(tenv.Config)
		},
		Home:     tenv.Config,
		Interval: time.Hour,
		APIToken: apiToken,
	}
	r := startDaemon(t, opts)
	waitFor(t, 2*time.Minute, "dev in sync", func() bool { return r.env(t, "dev").Phase == statusapi.PhaseInSync })
	commit := r.env(t, "dev").Commit
	if len(commit) < 7 {
		t.Fatalf("dev's commit %q", commit)
	}
	view := func(r *running, path string, want ...string) string {
		t.Helper()
		code, body := r.get(t, path)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", path, code, body)
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s lacks %q", path, w)
			}
		}
		return body
	}
	view(r, "/", `href="/environments/dev"`, "in-sync", commit[:7])
	var rows []string
	for _, rel := range []string{"egov-config", "egov-mdms-service", "egov-user", "pgr-services"} {
		rows = append(rows, `<tr data-release="`+rel+`" data-namespace="egov" data-phase="in-sync"`)
	}
	waitFor(t, 30*time.Second, "the first sync in the history", func() bool {
		_, body := r.get(t, "/environments/dev")
		return strings.Contains(body, `data-result="success"`)
	})
	body := view(r, "/environments/dev", append(rows, "Sync history", `<td data-label="Trigger">start</td>`, commit[:7])...)
	if n := strings.Count(body, "<tr data-started="); n != 1 {
		t.Errorf("the environment view lists %d syncs, want 1 (the first)", n)
	}
	view(r, "/environments/dev/releases/egov-user", "egov-user", "egov", "in-sync")
	if code, _ := r.get(t, "/environments/nope"); code != http.StatusNotFound {
		t.Errorf("an unknown environment: %d, want 404", code)
	}

	// Sync now: the token is required; the sync plans in full and is in
	// the history as manual.
	if code := r.post(t, "/api/v1/environments/dev/sync", ""); code != http.StatusUnauthorized {
		t.Errorf("sync without a token: %d, want 401", code)
	}
	if code := r.post(t, "/api/v1/environments/dev/releases/nope/sync", apiToken); code != http.StatusNotFound {
		t.Errorf("sync of an unknown release: %d, want 404", code)
	}
	if code := r.post(t, "/api/v1/environments/dev/releases/egov-user/sync", apiToken); code != http.StatusOK {
		t.Fatalf("sync now: %d", code)
	}
	waitFor(t, 30*time.Second, "the manual sync in the history", func() bool {
		_, body := r.get(t, "/environments/dev")
		return strings.Contains(body, `<td data-label="Trigger">manual</td>`) && strings.Count(body, "<tr data-started=") == 2
	})

	// A new pod: nothing cached; the history comes back from the cluster.
	r.stop()
	opts.CacheDir = t.TempDir()
	r = startDaemon(t, opts)
	waitFor(t, 2*time.Minute, "dev in sync after the restart", func() bool { return r.env(t, "dev").Phase == statusapi.PhaseInSync })
	waitFor(t, 30*time.Second, "the three syncs on the environment view", func() bool {
		_, body := r.get(t, "/environments/dev")
		return strings.Count(body, "<tr data-started=") == 3
	})
}
