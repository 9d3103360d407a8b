package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/digitops/digitops/daemon/history"
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/rollout"
)

// fakeBackend is a Backend of canned data, shaped like the examples
// (quickstart's dev, rollout's qa and prod-*), whose status a test may
// change; it records the actions it is asked for.
type fakeBackend struct {
	mu     sync.Mutex
	status statusapi.Status
	// details are the environments' pending changes by environment;
	// detailErr, when set, is every EnvironmentDetail's answer.
	details   map[string]statusapi.EnvironmentDetail
	detailErr error
	// releases are the releases' details by "env/release"; releaseErr,
	// when set, is every ReleaseDetail's answer.
	releases   map[string]statusapi.ReleaseDetail
	releaseErr error
	history    map[string]history.Document
	// calls are the actions asked, as "retry dev", "suspend dev/egov-user",
	// "rollback dev/egov-user 2", "abort egov".
	calls []string
	// statusReads counts the reads of the status.
	statusReads atomic.Int64
}

var _ Backend = (*fakeBackend)(nil)

// Status returns a deep copy of the status, which a test may change
// meanwhile.
func (f *fakeBackend) Status(context.Context, bool) statusapi.Status {
	f.statusReads.Add(1)
	return f.snapshot()
}

// snapshot is a deep copy of the status.
func (f *fakeBackend) snapshot() statusapi.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := json.Marshal(f.status)
	if err != nil {
		panic(err)
	}
	var st statusapi.Status
	if err := json.Unmarshal(b, &st); err != nil {
		panic(err)
	}
	return st
}

// setStatus changes the status under the lock.
func (f *fakeBackend) setStatus(change func(*statusapi.Status)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(&f.status)
}

// called returns the actions asked so far.
func (f *fakeBackend) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeBackend) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeBackend) environment(env string) (statusapi.Environment, error) {
	for _, e := range f.snapshot().Environments {
		if e.Name == env {
			return e, nil
		}
	}
	return statusapi.Environment{}, NotFound("no environment " + env)
}

func (f *fakeBackend) Ready() bool { return true }
func (f *fakeBackend) Rollouts() []statusapi.Rollout {
	return f.Status(context.Background(), false).Rollouts
}
func (f *fakeBackend) Pushed(Push) (int, []string)   { return 0, nil }
func (f *fakeBackend) Route(string) (string, bool)   { return "", true }
func (f *fakeBackend) RouteRollouts() (string, bool) { return "", true }
func (f *fakeBackend) Peers() []string               { return nil }
func (f *fakeBackend) slash(env, release string) string {
	if release == "" {
		return env
	}
	return env + "/" + release
}

func (f *fakeBackend) SetSuspended(_ context.Context, env, release string, on bool) (statusapi.Environment, error) {
	verb := "resume"
	if on {
		verb = "suspend"
	}
	f.record("%s %s", verb, f.slash(env, release))
	return f.environment(env)
}

func (f *fakeBackend) Retry(_ context.Context, env, release string) (statusapi.Environment, error) {
	f.record("retry %s", f.slash(env, release))
	return f.environment(env)
}

func (f *fakeBackend) ActOnRollout(_ context.Context, name string, a rollout.Action) (statusapi.Rollout, error) {
	f.record("%s %s", a, name)
	return statusapi.Rollout{Name: name}, nil
}

func (f *fakeBackend) History(_ context.Context, env, release string) (history.Document, error) {
	if _, err := f.environment(env); err != nil {
		return history.Document{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	doc, ok := f.history[env]
	if !ok {
		return history.Document{Environment: env, Entries: []history.Entry{}}, nil
	}
	if release != "" {
		doc.Entries = history.Touching(doc.Entries, release)
	}
	return doc, nil
}

func (f *fakeBackend) EnvironmentDetail(_ context.Context, env string) (statusapi.EnvironmentDetail, error) {
	e, err := f.environment(env)
	if err != nil {
		return statusapi.EnvironmentDetail{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.detailErr != nil {
		return statusapi.EnvironmentDetail{}, f.detailErr
	}
	d := f.details[env]
	d.Environment = e
	return d, nil
}

func (f *fakeBackend) ReleaseDetail(_ context.Context, env, release string) (statusapi.ReleaseDetail, error) {
	e, err := f.environment(env)
	if err != nil {
		return statusapi.ReleaseDetail{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.releaseErr != nil {
		return statusapi.ReleaseDetail{}, f.releaseErr
	}
	for _, r := range e.Releases {
		if r.Name == release {
			d := f.releases[env+"/"+release]
			d.Environment, d.Release = env, r
			return d, nil
		}
	}
	return statusapi.ReleaseDetail{}, NotFound("no release " + release + " in " + env)
}

func (f *fakeBackend) SyncNow(_ context.Context, env, release string) (statusapi.Environment, error) {
	f.record("sync %s", f.slash(env, release))
	return f.environment(env)
}

func (f *fakeBackend) Rollback(_ context.Context, env, release string, to int) (statusapi.ReleaseDetail, error) {
	f.record("rollback %s/%s %d", env, release, to)
	return statusapi.ReleaseDetail{Environment: env, RolledBack: &statusapi.RolledBack{To: to, At: time.Now()}}, nil
}

// consoleServer serves h; its streams end and it closes when the test
// ends (an open stream would hold Close).
func consoleServer(t *testing.T, h *handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		h.closeStreams()
		srv.Close()
	})
	return srv
}

// goldenNow is the clock of the golden views and of the tests that need
// none in particular.
var goldenNow = time.Date(2025, 11, 30, 10, 5, 0, 0, time.UTC)

// testOptions are the handler's options in tests, with the API token
// token ("" for a read-only API).
func testOptions(token string) Options {
	return Options{Registry: prometheus.NewRegistry(), APIToken: token, Log: slog.New(slog.DiscardHandler)}
}

const (
	commitA = "4f1c0d2e9b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d"
	commitB = "0123456789abcdef0123456789abcdef01234567"
)

// quickstart is a fake Backend holding a daemon's state of the examples
// seen at now: dev (quickstart's four services) failing on pgr-services
// with egov-user drifted; qa and prod-a, b of the rollout example; the
// rollout egov soaking at wave 2; prod-a's egov-user held by an emergency
// rollback.
func quickstart(now time.Time) *fakeBackend {
	at := func(d time.Duration) time.Time { return now.Add(-d).UTC() }
	ptr := func(t time.Time) *time.Time { return &t }
	rel := func(name string, phase statusapi.Phase, action, reason string, revision int) statusapi.Release {
		return statusapi.Release{Name: name, Namespace: "egov", Phase: phase, Action: statusapi.Action(action), Reason: reason, Revision: revision}
	}
	egovUser := rel("egov-user", statusapi.PhaseDrifted, "none", "drifted: 1 drift item(s) on 1 object(s)", 3)
	egovUser.Drift = []statusapi.DriftItem{{Object: "Deployment/egov/egov-user", Path: "/spec/replicas", Kind: "changed", Before: "2", After: "5", Manager: "kubectl-edit"}}
	pgr := rel("pgr-services", statusapi.PhaseFailing, "error", `environments/dev.yaml:3: release "pgr-services": chart not found`, 0)
	pgr.Error, pgr.Outcome = pgr.Reason, "failed"
	held := rel("egov-user", statusapi.PhaseSuspended, "skip", "suspended", 2)
	held.Suspended = true
	summary := &statusapi.Summary{Upgrade: 1, Unchanged: 2, Error: 1}
	st := statusapi.Status{
		Leader: true, Ready: true, Replica: "digitops-0",
		Sources: []statusapi.Source{{URL: "https://github.com/egov/egov-envs", Ref: "main", Revision: "main@sha1:" + commitA, Environments: []string{"dev", "prod-a", "prod-b", "qa"}}},
		Environments: []statusapi.Environment{
			{
				Name: "dev", Source: "https://github.com/egov/egov-envs", Phase: statusapi.PhaseFailing,
				Revision: "main@sha1:" + commitA, Commit: commitA, CommitTime: ptr(at(4 * time.Minute)), Owner: "digitops-0",
				CommitAuthor: "Asha Rao", CommitSubject: "dev: egov-user 2.9.1, pgr-services 2.9.0",
				LastSync:    &statusapi.Sync{Started: at(3 * time.Minute), Duration: "3.412s", Result: "failure", Revision: "main@sha1:" + commitA, Summary: summary},
				LastSuccess: ptr(at(42 * time.Minute)),
				LastError:   "1 release(s) failed: pgr-services",
				Warnings:    []statusapi.Warning{{File: "environments/dev.yaml", Line: 57, Release: "egov-user", Msg: "listed twice with different tags"}},
				Releases: []statusapi.Release{
					rel("egov-config", statusapi.PhaseInSync, "none", "", 1),
					rel("egov-mdms-service", statusapi.PhaseInSync, "none", "", 2),
					egovUser, pgr,
				},
			},
			{
				Name: "prod-a", Source: "https://github.com/egov/egov-envs", Phase: statusapi.PhaseInSync,
				Revision: "main@sha1:" + commitB, Commit: commitB, CommitTime: ptr(at(26 * time.Hour)), Owner: "digitops-1",
				CommitAuthor: "Ravi Kumar", CommitSubject: "prod-a: hold egov-user at 2.8",
				LastSync:    &statusapi.Sync{Started: at(5 * time.Minute), Duration: "1.2s", Result: "success", Summary: &statusapi.Summary{Unchanged: 1, Skip: 1}},
				LastSuccess: ptr(at(5 * time.Minute)),
				Releases:    []statusapi.Release{rel("egov-config", statusapi.PhaseInSync, "none", "", 4), held},
			},
			{Name: "prod-b", Source: "https://github.com/egov/egov-envs", Phase: statusapi.PhasePending, Releases: []statusapi.Release{}},
			{
				Name: "qa", Source: "https://github.com/egov/egov-envs", Phase: statusapi.PhaseInSync,
				Revision: "main@sha1:" + commitA, Commit: commitA, CommitTime: ptr(at(4 * time.Minute)), Owner: "digitops-1",
				LastSync:    &statusapi.Sync{Started: at(2 * time.Minute), Duration: "8.9s", Result: "success", Summary: &statusapi.Summary{Upgrade: 1, Unchanged: 1}},
				LastSuccess: ptr(at(2 * time.Minute)),
				Releases:    []statusapi.Release{rel("egov-config", statusapi.PhaseInSync, "none", "", 2), rel("egov-user", statusapi.PhaseInSync, "upgrade", "values changed", 5)},
			},
		},
		Rollouts: []statusapi.Rollout{{
			Name: "egov", Source: "https://github.com/egov/egov-envs", Revision: "main@sha1:" + commitA, Wave: 2, SoakLeft: "18m0s",
			Summary: "4f1c0d2 at wave 2 of 3, soaking (18m0s left)",
			Waves: []statusapi.RolloutWave{
				{Soak: "10m0s", Environments: []statusapi.RolloutEnvironment{{Name: "dev", Phase: statusapi.PhaseFailing}}},
				{Soak: "30m0s", Gate: "sum(rate(http_server_requests_seconds_count{status=~\"5..\"}[5m])) ≤ 0.01",
					Environments: []statusapi.RolloutEnvironment{{Name: "qa", Commit: commitA, Phase: statusapi.PhaseInSync}}},
				{Environments: []statusapi.RolloutEnvironment{{Name: "prod-a", Commit: commitB, Phase: statusapi.PhaseInSync}, {Name: "prod-b", Commit: commitB, Phase: statusapi.PhasePending}}},
			},
		}},
	}
	diff := strings.Join([]string{
		"~ apps/v1 Deployment egov/egov-user (changed)",
		"  @@ -9,7 +9,7 @@",
		"  -   replicas: 2",
		"  +   replicas: 3",
	}, "\n")
	return &fakeBackend{
		status: st,
		details: map[string]statusapi.EnvironmentDetail{
			"dev": {Pending: []statusapi.PendingChange{
				{Release: "egov-user", Namespace: "egov", Action: "upgrade", Reason: "values changed",
					Inputs: []string{"environments/dev.yaml: egov-user.replicas 2 → 3"}, Diff: diff},
				{Release: "pgr-services", Namespace: "egov", Action: "error", Reason: pgr.Reason},
			}},
		},
		releases: map[string]statusapi.ReleaseDetail{
			"dev/egov-user": {
				Chart: "egov-user-0.1.0", AppVersion: "2.9.2", Images: []string{"egovio/egov-user:v2.9.2-4a60f20", "egovio/egov-user-db:v2.9.2-4a60f20"},
				Needs: []string{"egov-mdms-service"}, Dependants: []string{"pgr-services"},
				Revisions: []statusapi.HelmRevision{
					{Revision: 3, Updated: at(3 * time.Minute), Status: "deployed", Description: "Upgrade complete", Chart: "egov-user-0.1.0", Commit: commitA, Replica: "digitops-0"},
					{Revision: 2, Updated: at(26 * time.Hour), Status: "superseded", Description: "Upgrade complete", Chart: "egov-user-0.1.0", Commit: commitB, Replica: "digitops-1"},
					{Revision: 1, Updated: at(72 * time.Hour), Status: "superseded", Description: "Install complete", Chart: "egov-user-0.1.0"},
				},
				Adopted: []string{"ConfigMap/egov/egov-user-config"},
				Orphans: []string{"Service/egov/egov-user-legacy"},
			},
			"prod-a/egov-user": {
				Chart: "egov-user-0.1.0", Revisions: []statusapi.HelmRevision{
					{Revision: 3, Updated: at(20 * time.Minute), Status: "deployed", Description: "Rollback to 2", Chart: "egov-user-0.1.0"},
					{Revision: 2, Updated: at(26 * time.Hour), Status: "superseded", Description: "Upgrade complete", Chart: "egov-user-0.1.0", Commit: commitB},
				},
				RolledBack: &statusapi.RolledBack{To: 2, At: at(20 * time.Minute)},
			},
		},
		history: map[string]history.Document{
			"dev": {Environment: "dev", Entries: []history.Entry{
				{Started: at(3 * time.Minute), Duration: "3.412s", Trigger: history.TriggerWebhook, Revision: "main@sha1:" + commitA, Commit: commitA,
					Result: history.ResultFailure, Summary: &history.Summary{Upgrade: 1, Unchanged: 2, Error: 1}, Error: "1 release(s) failed: pgr-services",
					Releases: []history.Release{
						{Name: "egov-user", Namespace: "egov", Action: "upgrade", Outcome: "succeeded", Revision: 3},
						{Name: "pgr-services", Namespace: "egov", Action: "error", Outcome: "failed", Error: `environments/dev.yaml:3: release "pgr-services": chart not found`},
					}},
				{Started: at(30 * time.Minute), Duration: "412ms", Trigger: history.TriggerWatch, Revision: "main@sha1:" + commitB, Commit: commitB,
					Result: history.ResultSuccess, Summary: &history.Summary{Correct: 1, Unchanged: 3},
					Releases: []history.Release{{Name: "egov-config", Namespace: "egov", Action: "correct-drift", Outcome: "succeeded", Revision: 1}}},
				{Started: at(26 * time.Hour), Duration: "21.07s", Trigger: history.TriggerStart, Revision: "main@sha1:" + commitB, Commit: commitB,
					Result: history.ResultSuccess, Summary: &history.Summary{Install: 4},
					Releases: []history.Release{
						{Name: "egov-config", Namespace: "egov", Action: "install", Outcome: "succeeded", Revision: 1},
						{Name: "egov-mdms-service", Namespace: "egov", Action: "install", Outcome: "succeeded", Revision: 1},
						{Name: "egov-user", Namespace: "egov", Action: "install", Outcome: "succeeded", Revision: 1},
					}, MoreReleases: 1},
			}},
		},
	}
}

// The XSS probes: markup and script in every string a repository or a
// cluster sets. None may run or become an element.
const (
	probeRelease = `<img src=x onerror=alert(1)>`
	probeReason  = `<script>alert(2)</script>`
	probeBranch  = `<svg/onload=alert(3)>`
	probeDrift   = `"><img src=x onerror=alert(4)>`
	probeSubject = `</td><script>alert(5)</script>`
	probeEnv     = `x" onmouseover="alert(6)`
	probeError   = `<iframe src="javascript:alert(7)"></iframe>`
)

// withProbes adds to f an environment whose strings are XSS probes: its
// name, a release's name, a reason, a branch, a drift value, a Helm
// revision's description (the commit subject Helm records), the
// commit's subject and author, an error.
func withProbes(f *fakeBackend, now time.Time) *fakeBackend {
	committed := now.Add(-time.Hour)
	r := statusapi.Release{Name: probeRelease, Namespace: "egov", Phase: statusapi.PhaseDrifted, Action: "none", Reason: probeReason, Revision: 2,
		Error: probeError, Suspended: true, Notes: []string{probeSubject},
		Drift: []statusapi.DriftItem{{Object: "ConfigMap/egov/" + probeDrift, Path: "/data/" + probeDrift, Kind: "changed", Before: probeDrift, After: probeReason, Manager: probeSubject}}}
	f.status.Environments = append(f.status.Environments, statusapi.Environment{
		Name: probeEnv, Source: "https://example.org/" + probeBranch, Phase: statusapi.PhaseDrifted,
		Revision: probeBranch + "@sha1:" + commitA, Commit: commitA, Owner: probeSubject, LastError: probeError,
		CommitTime: &committed, CommitAuthor: probeEnv, CommitSubject: probeSubject,
		LastSync: &statusapi.Sync{Started: now.Add(-time.Minute), Duration: probeReason, Result: statusapi.SyncResult(probeReason)},
		Warnings: []statusapi.Warning{{File: probeBranch, Line: 1, Release: probeRelease, Msg: probeReason}},
		Releases: []statusapi.Release{r},
	})
	f.status.Rollouts = append(f.status.Rollouts, statusapi.Rollout{Name: probeRelease, Summary: probeSubject, Halted: probeReason, Wave: 1,
		Waves: []statusapi.RolloutWave{{Gate: probeDrift, Environments: []statusapi.RolloutEnvironment{{Name: probeEnv, Commit: probeBranch, Phase: statusapi.PhaseDrifted}}}}})
	f.details[probeEnv] = statusapi.EnvironmentDetail{Pending: []statusapi.PendingChange{
		{Release: probeRelease, Namespace: "egov", Action: "upgrade", Reason: probeReason, Inputs: []string{probeDrift}, Diff: probeSubject + "\n" + probeDrift}}}
	f.releases[probeEnv+"/"+probeRelease] = statusapi.ReleaseDetail{Chart: probeSubject, Images: []string{probeDrift},
		Needs: []string{probeRelease}, Dependants: []string{probeEnv}, Adopted: []string{probeDrift}, Orphans: []string{probeReason},
		Revisions: []statusapi.HelmRevision{
			{Revision: 2, Updated: now.Add(-time.Hour), Status: "deployed", Description: probeSubject, Chart: probeReason, Commit: commitA, Replica: probeBranch},
			{Revision: 1, Updated: now.Add(-2 * time.Hour), Status: probeReason, Description: probeSubject, Chart: probeSubject},
		},
		RolledBack: &statusapi.RolledBack{To: 1, At: now.Add(-time.Minute)}}
	f.history[probeEnv] = history.Document{Environment: probeEnv, Error: probeError, Entries: []history.Entry{
		{Started: now.Add(-time.Minute), Duration: "1s", Trigger: history.Trigger(probeReason), Revision: probeBranch + "@sha1:" + commitA, Result: history.Result(probeReason),
			Error: probeError, Releases: []history.Release{{Name: probeRelease, Action: probeReason, Outcome: probeSubject, Error: probeDrift}}},
	}}
	return f
}
