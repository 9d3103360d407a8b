package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/digitops/digitops/daemon"
	"github.com/digitops/digitops/daemon/history"
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/internal/testenv"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// getJSON GETs path and decodes its JSON answer into out; it returns the
// status code.
func (r *running) getJSON(t *testing.T, path string, out any) int {
	t.Helper()
	code, body := r.get(t, path)
	if code == http.StatusOK {
		if err := json.Unmarshal([]byte(body), out); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, body)
		}
	}
	return code
}

// postBody sends a POST with a body and the bearer token (none when
// empty); it returns the status code and the answer.
func (r *running) postBody(t *testing.T, path, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return r.do(t, req)
}

func (r *running) envDetail(t *testing.T) statusapi.EnvironmentDetail {
	t.Helper()
	var d statusapi.EnvironmentDetail
	if code := r.getJSON(t, "/api/v1/environments/dev", &d); code != http.StatusOK {
		t.Fatalf("GET environment detail: %d", code)
	}
	return d
}

func (r *running) releaseDetail(t *testing.T, release string) statusapi.ReleaseDetail {
	t.Helper()
	var d statusapi.ReleaseDetail
	if code := r.getJSON(t, "/api/v1/environments/dev/releases/"+release, &d); code != http.StatusOK {
		t.Fatalf("GET release detail of %s: %d", release, code)
	}
	return d
}

// revisionsOf prints a release's revisions as "3 deployed Rollback to 1".
func revisionsOf(d statusapi.ReleaseDetail) string {
	var s []string
	for _, r := range d.Revisions {
		s = append(s, fmt.Sprintf("%d %s %s", r.Revision, r.Status, r.Description))
	}
	return strings.Join(s, "; ")
}

// TestDaemon_consoleAPI: the console's endpoints on a running daemon
// (issue #27). In sync, nothing is pending and a release's detail reads
// its Helm history, labelled with the commit it came from. A suspended
// environment plans a new commit without applying it: pending shows the
// upgrade and its diff until resume applies it. Sync now needs the token
// and is history with trigger manual. An emergency rollback writes Helm's
// "Rollback to 1", suspends the release and marks it rolled back; syncs
// leave it so until it is resumed, and the loop then upgrades it back.
func TestDaemon_consoleAPI(t *testing.T) {
	tenv := testenv.ForTest(t, testenv.Options{})
	g := quickstartRepo(t)
	head, err := g.repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	first := head.Hash().String()
	r := startDaemon(t, daemon.Options{
		Sources: []daemon.SourceOptions{{URL: g.dir}},
		Cluster: func(context.Context, manifest.ClusterRef) (*kube.Cluster, error) {
			return kube.NewCluster(tenv.Config)
		},
		Home:          tenv.Config,
		Interval:      time.Hour, // only the API wakes the loop after the first sync
		DriftInterval: time.Hour,
		APIToken:      apiToken,
	})
	waitFor(t, 2*time.Minute, "dev in sync", func() bool { return r.env(t, "dev").Phase == statusapi.PhaseInSync })

	// 1. In sync: nothing pending; egov-user's detail, from Helm's storage.
	if d := r.envDetail(t); d.Name != "dev" || d.Pending == nil || len(d.Pending) != 0 {
		t.Errorf("environment detail in sync: name %q, pending %+v; want dev, []", d.Name, d.Pending)
	}
	user := r.releaseDetail(t, "egov-user")
	if len(user.Revisions) != 1 || user.Revisions[0].Revision != 1 || user.Revisions[0].Status != "deployed" || user.Revisions[0].Commit != first {
		t.Errorf("egov-user revisions = %+v, want 1 deployed from commit %s", user.Revisions, first)
	}
	if user.Release.Name != "egov-user" || user.Release.Revision != 1 || user.Chart != "egov-user-0.1.0" || len(user.Images) == 0 {
		t.Errorf("egov-user detail: row %+v, chart %q, images %v", user.Release, user.Chart, user.Images)
	}
	if strings.Join(user.Needs, ",") != "egov-mdms-service" || strings.Join(user.Dependants, ",") != "pgr-services" {
		t.Errorf("egov-user needs %v, dependants %v; want egov-mdms-service, pgr-services", user.Needs, user.Dependants)
	}
	for _, path := range []string{"/api/v1/environments/nope", "/api/v1/environments/dev/releases/nope"} {
		if code, _ := r.get(t, path); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, code)
		}
	}

	// 2. Suspended, a commit is planned without applying: pending lists it
	// with its diff.
	if code := r.post(t, "/api/v1/environments/dev/suspend", apiToken); code != http.StatusOK {
		t.Fatalf("suspend: %d", code)
	}
	cfg := g.read("digitops.yaml")
	if !strings.Contains(cfg, "replicas: 2") {
		t.Fatal("no replicas: 2 in the quickstart configuration")
	}
	second := g.commit("egov-user: 3 replicas", map[string]string{"digitops.yaml": strings.Replace(cfg, "replicas: 2", "replicas: 3", 1)})
	if code := r.post(t, "/api/v1/environments/dev/sync", apiToken); code != http.StatusOK {
		t.Fatalf("sync of a suspended environment: %d", code)
	}
	waitFor(t, time.Minute, "the pending upgrade of egov-user", func() bool {
		d := r.envDetail(t)
		return len(d.Pending) == 1 && d.Pending[0].Release == "egov-user"
	})
	d := r.envDetail(t)
	if p := d.Pending[0]; p.Action != "upgrade" || p.Namespace != "egov" || strings.Join(p.Inputs, ",") != "digitops.yaml: replicas 2 → 3" ||
		!strings.Contains(p.Diff, "Deployment egov/egov-user (changed)") || !strings.Contains(p.Diff, "-   replicas: 2\n") || !strings.Contains(p.Diff, "+   replicas: 3\n") {
		t.Errorf("pending = %+v, want egov-user's upgrade with a diff of its replicas", p)
	}
	if d.Phase != statusapi.PhaseSuspended || d.LastSync == nil || d.LastSync.Result != "suspended" || !strings.Contains(d.Revision, second) {
		t.Errorf("suspended environment: phase %s, last sync %+v, revision %s; want suspended at %s", d.Phase, d.LastSync, d.Revision, second)
	}
	if rev := r.releaseDetail(t, "egov-user").Revisions; len(rev) != 1 {
		t.Errorf("a suspended environment applied: egov-user has revisions %+v", rev)
	}

	// 3. Resumed, the commit is applied and nothing is pending.
	if code := r.post(t, "/api/v1/environments/dev/resume", apiToken); code != http.StatusOK {
		t.Fatalf("resume: %d", code)
	}
	waitFor(t, time.Minute, "egov-user upgraded", func() bool {
		u := r.releaseDetail(t, "egov-user")
		return len(u.Revisions) == 2 && u.Revisions[0].Status == "deployed" && r.env(t, "dev").Phase == statusapi.PhaseInSync
	})
	if d := r.envDetail(t); len(d.Pending) != 0 {
		t.Errorf("pending after the upgrade: %+v", d.Pending)
	}
	if c := r.releaseDetail(t, "egov-user").Revisions[0].Commit; c != second {
		t.Errorf("revision 2 commit label %q, want %s", c, second)
	}

	// 4. Sync now: with the token only; a sync with trigger manual.
	if code := r.post(t, "/api/v1/environments/dev/sync", ""); code != http.StatusUnauthorized {
		t.Errorf("sync without a token: %d, want 401", code)
	}
	before := len(r.history(t, "dev", "").Entries)
	if code := r.post(t, "/api/v1/environments/dev/sync", apiToken); code != http.StatusOK {
		t.Fatalf("sync: %d", code)
	}
	waitFor(t, time.Minute, "a manual sync in the history", func() bool {
		e := r.history(t, "dev", "").Entries
		return len(e) > before && e[0].Trigger == history.TriggerManual && e[0].Result == history.ResultSuccess
	})

	// 5. An emergency rollback of egov-user to revision 1.
	for _, tc := range []struct {
		path, token, body string // the request
		want              int    // its status
	}{
		{"/api/v1/environments/dev/releases/egov-user/rollback", "", `{"revision": 1}`, http.StatusUnauthorized},
		{"/api/v1/environments/dev/releases/egov-user/rollback", apiToken, `{"revision": 9}`, http.StatusNotFound},
		{"/api/v1/environments/dev/releases/nope/rollback", apiToken, `{"revision": 1}`, http.StatusNotFound},
		{"/api/v1/environments/dev/releases/egov-user/rollback", apiToken, `{"revision": "1"}`, http.StatusBadRequest},
	} {
		if code, body := r.postBody(t, tc.path, tc.token, tc.body); code != tc.want {
			t.Errorf("POST %s %s: %d %s, want %d", tc.path, tc.body, code, body, tc.want)
		}
	}
	if u := r.releaseDetail(t, "egov-user"); u.Release.Suspended || len(u.Revisions) != 2 {
		t.Fatalf("a refused rollback changed egov-user: suspended %v, revisions %s", u.Release.Suspended, revisionsOf(u))
	}
	code, body := r.postBody(t, "/api/v1/environments/dev/releases/egov-user/rollback", apiToken, `{"revision": 1}`)
	if code != http.StatusOK {
		t.Fatalf("rollback: %d %s", code, body)
	}
	var rolled statusapi.ReleaseDetail
	if err := json.Unmarshal([]byte(body), &rolled); err != nil {
		t.Fatal(err)
	}
	if rolled.RolledBack == nil || rolled.RolledBack.To != 1 || !rolled.Release.Suspended {
		t.Errorf("after the rollback: rolledBack %+v, suspended %v", rolled.RolledBack, rolled.Release.Suspended)
	}
	if len(rolled.Revisions) != 3 || rolled.Revisions[0].Description != "Rollback to 1" || rolled.Revisions[0].Status != "deployed" || rolled.Revisions[0].Commit != first {
		t.Errorf("revisions after the rollback: %s (commit %q); want 3 deployed Rollback to 1, from %s", revisionsOf(rolled), rolled.Revisions[0].Commit, first)
	}
	if v, _ := metricValue(t, r, `digitops_release_actions_total{action="rollback",environment="dev",release="egov-user",result="succeeded"}`); v != 1 {
		t.Errorf("rollback actions counted: %v, want 1", v)
	}
	var row statusapi.Release
	for _, rel := range r.env(t, "dev").Releases {
		if rel.Name == "egov-user" {
			row = rel
		}
	}
	if row.RolledBack == nil || row.RolledBack.To != 1 || row.Phase != statusapi.PhaseSuspended {
		t.Errorf("egov-user's status row: %+v, want suspended and rolled back to 1", row)
	}

	// The next syncs leave it: the loop was woken, and a sync is asked.
	before = len(r.history(t, "dev", "").Entries)
	if code := r.post(t, "/api/v1/environments/dev/sync", apiToken); code != http.StatusOK {
		t.Fatalf("sync: %d", code)
	}
	waitFor(t, time.Minute, "a sync after the rollback", func() bool {
		e := r.history(t, "dev", "").Entries
		return len(e) > before && e[0].Trigger == history.TriggerManual
	})
	if u := r.releaseDetail(t, "egov-user"); len(u.Revisions) != 3 || u.RolledBack == nil || u.Release.Revision != 3 {
		t.Errorf("a sync undid the rollback: revisions %s, rolledBack %+v, row revision %d", revisionsOf(u), u.RolledBack, u.Release.Revision)
	}
	if d := r.envDetail(t); len(d.Pending) != 0 {
		t.Errorf("a suspended release is pending: %+v", d.Pending)
	}

	// 6. Resumed, the loop upgrades it back to Git.
	if code := r.post(t, "/api/v1/environments/dev/releases/egov-user/resume", apiToken); code != http.StatusOK {
		t.Fatalf("resume egov-user: %d", code)
	}
	waitFor(t, time.Minute, "egov-user upgraded back", func() bool {
		u := r.releaseDetail(t, "egov-user")
		return len(u.Revisions) == 4 && u.Revisions[0].Status == "deployed" && u.Revisions[0].Commit == second && u.RolledBack == nil
	})
	if u := r.releaseDetail(t, "egov-user"); u.Release.Suspended || u.Release.RolledBack != nil {
		t.Errorf("resumed egov-user: %+v", u.Release)
	}
}
