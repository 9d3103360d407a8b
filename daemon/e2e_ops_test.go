package daemon_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/release"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/digitops/digitops/daemon"
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/internal/testenv"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

func clusterOf(tenv *testenv.Env) daemon.ClusterFunc {
	return func(context.Context, manifest.ClusterRef) (*kube.Cluster, error) {
		return kube.NewCluster(tenv.Config)
	}
}

// withSync adds a line to the quickstart's sync block.
func withSync(t *testing.T, g *gitRepo, line string) string {
	t.Helper()
	cfg := g.read("digitops.yaml")
	out := strings.Replace(cfg, "      wait: false\n", "      wait: false\n      "+line+"\n", 1)
	if out == cfg {
		t.Fatal("sync block not found")
	}
	return out
}

// A manual edit shows as drift (warn: gauge 1, items on the status), and
// drift: correct puts it back (gauge 0).
func TestDaemon_drift(t *testing.T) {
	tenv := testenv.ForTest(t, testenv.Options{})
	g := quickstartRepo(t)
	g.commit("drift warn", map[string]string{"digitops.yaml": withSync(t, g, "drift: warn")})
	r := startDaemon(t, daemon.Options{
		Sources:       []daemon.SourceOptions{{URL: g.dir}},
		Cluster:       clusterOf(tenv),
		Interval:      time.Hour,
		DriftInterval: 200 * time.Millisecond,
		Debounce:      50 * time.Millisecond,
		Webhooks:      daemon.WebhookSecrets{GitHub: webhookSecret},
	})
	waitFor(t, 2*time.Minute, "dev in sync", func() bool { return r.env(t, "dev").Phase == statusapi.PhaseInSync })
	const gauge = `digitops_release_drifted{environment="dev",namespace="egov",release="egov-user"}`
	if v, ok := metricValue(t, r, gauge); !ok || v != 0 {
		t.Fatalf("drift gauge before the edit = %v (present %v), want 0", v, ok)
	}

	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(tenv.Config)
	_, err := cs.AppsV1().Deployments("egov").Patch(ctx, "egov-user", types.MergePatchType, []byte(`{"spec":{"replicas":5}}`), metav1.PatchOptions{FieldManager: "kubectl-edit"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // past the drift interval
	githubPush(t, r, g.dir, webhookSecret)
	waitFor(t, 20*time.Second, "drift gauge 1", func() bool { v, _ := metricValue(t, r, gauge); return v == 1 })
	var user statusapi.Release
	for _, rel := range r.env(t, "dev").Releases {
		if rel.Name == "egov-user" {
			user = rel
		}
	}
	if user.Phase != statusapi.PhaseDrifted || len(user.Drift) == 0 {
		t.Fatalf("egov-user after the edit: %+v, want drifted with items", user)
	}
	if !strings.Contains(user.Drift[0].Path, "replicas") || user.Drift[0].Manager != "kubectl-edit" {
		t.Errorf("drift item = %+v, want /spec/replicas by kubectl-edit", user.Drift[0])
	}
	if r.env(t, "dev").Phase != statusapi.PhaseDrifted {
		t.Errorf("environment phase = %s, want drifted", r.env(t, "dev").Phase)
	}
	if v, _ := metricValue(t, r, `digitops_drift_detected_total{environment="dev",release="egov-user"}`); v != 1 {
		t.Errorf("drift_detected_total = %v, want 1", v)
	}

	// drift: correct puts the replicas back and the gauge to 0.
	g.commit("drift correct", map[string]string{"digitops.yaml": strings.Replace(g.read("digitops.yaml"), "drift: warn", "drift: correct", 1)})
	githubPush(t, r, g.dir, webhookSecret)
	waitFor(t, 20*time.Second, "drift corrected", func() bool {
		v, _ := metricValue(t, r, gauge)
		return v == 0 && r.env(t, "dev").Phase == statusapi.PhaseInSync
	})
	dep, err := cs.AppsV1().Deployments("egov").Get(ctx, "egov-user", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *dep.Spec.Replicas != 2 {
		t.Errorf("replicas after correction = %d, want 2", *dep.Spec.Replicas)
	}

	// In correct mode a new hand edit is found and restored in one sync:
	// it still counts, so an alert on hand edits in production fires.
	const counter = `digitops_drift_detected_total{environment="dev",release="egov-user"}`
	before, _ := metricValue(t, r, counter)
	if _, err := cs.AppsV1().Deployments("egov").Patch(ctx, "egov-user", types.MergePatchType, []byte(`{"spec":{"replicas":7}}`), metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	githubPush(t, r, g.dir, webhookSecret)
	waitFor(t, 20*time.Second, "the second edit counted", func() bool { v, _ := metricValue(t, r, counter); return v == before+1 })
	waitFor(t, 20*time.Second, "the second edit corrected", func() bool {
		dep, err := cs.AppsV1().Deployments("egov").Get(ctx, "egov-user", metav1.GetOptions{})
		return err == nil && *dep.Spec.Replicas == 2
	})
	if v, _ := metricValue(t, r, gauge); v != 0 {
		t.Errorf("drift gauge after a corrected edit = %v, want 0", v)
	}
}

// With the Git server gone, the last good revision is kept, the fetch
// failure is counted and shown, and the daemon stays ready.
func TestDaemon_gitDown(t *testing.T) {
	tenv := testenv.ForTest(t, testenv.Options{})
	g := quickstartRepo(t)
	r := startDaemon(t, daemon.Options{
		Sources:  []daemon.SourceOptions{{URL: g.dir}},
		Cluster:  clusterOf(tenv),
		Interval: time.Hour,
		Debounce: 50 * time.Millisecond,
		Webhooks: daemon.WebhookSecrets{GitHub: webhookSecret},
	})
	waitFor(t, 2*time.Minute, "dev in sync", func() bool { return r.env(t, "dev").Phase == statusapi.PhaseInSync })
	revision := r.env(t, "dev").Revision

	moved := g.dir + ".away"
	if err := os.Rename(g.dir, moved); err != nil {
		t.Fatal(err)
	}
	defer os.Rename(moved, g.dir)
	githubPush(t, r, g.dir, webhookSecret)
	waitFor(t, 20*time.Second, "a fetch failure", func() bool {
		v, _ := metricValue(t, r, `digitops_source_fetch_total{environment="dev",result="failure"}`)
		return v >= 1
	})
	waitFor(t, 10*time.Second, "the failure on the status", func() bool { return r.env(t, "dev").LastError != "" })
	e := r.env(t, "dev")
	if e.Revision != revision {
		t.Errorf("revision = %q, want the last good %q", e.Revision, revision)
	}
	if !strings.Contains(e.LastError, "fetch") {
		t.Errorf("lastError = %q, want a fetch error", e.LastError)
	}
	if code, _ := r.get(t, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d with Git down, want 200", code)
	}
	for _, rel := range e.Releases {
		if rel.Revision != 1 {
			t.Errorf("%s at revision %d, want untouched 1", rel.Name, rel.Revision)
		}
	}
}

// Stopping the daemon in the middle of a sync lets the in-flight Helm
// actions finish: no release is left pending-*.
func TestDaemon_shutdownMidSync(t *testing.T) {
	tenv := testenv.ForTest(t, testenv.Options{})
	g := quickstartRepo(t)
	cluster, err := kube.NewCluster(tenv.Config)
	if err != nil {
		t.Fatal(err)
	}
	r := startDaemon(t, daemon.Options{
		Sources:       []daemon.SourceOptions{{URL: g.dir}},
		Cluster:       clusterOf(tenv),
		Interval:      time.Hour,
		ShutdownGrace: 20 * time.Second,
	})
	ctx := context.Background()
	waitFor(t, 2*time.Minute, "a first release written", func() bool {
		live, err := kube.ReadLiveState(ctx, cluster)
		return err == nil && len(live) > 0
	})
	stopped := time.Now()
	r.stop()
	t.Logf("stopped in %s", time.Since(stopped).Round(time.Millisecond))
	if time.Since(stopped) > 25*time.Second {
		t.Errorf("stop took %s, more than the grace period", time.Since(stopped))
	}
	live, err := kube.ReadLiveState(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range live {
		switch l.Status {
		case release.StatusPendingInstall, release.StatusPendingUpgrade, release.StatusPendingRollback:
			t.Errorf("%s left %s", l.Name, l.Status)
		}
	}
	if len(live) == 4 {
		t.Log("the whole sync finished within the grace period")
	}
}

// Two daemons with leader election: only the leader applies; when it
// stops, the other takes over.
func TestDaemon_leaderElection(t *testing.T) {
	tenv := testenv.ForTest(t, testenv.Options{})
	g := quickstartRepo(t)
	cs := kubernetes.NewForConfigOrDie(tenv.Config)
	start := func(id string) *running {
		return startDaemon(t, daemon.Options{
			Sources:  []daemon.SourceOptions{{URL: g.dir}},
			Cluster:  clusterOf(tenv),
			Interval: 500 * time.Millisecond,
			LeaderElection: &daemon.LeaderElection{
				Client: cs, Namespace: "default", Name: "digitops-test", Identity: id,
				LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 200 * time.Millisecond,
			},
		})
	}
	a, b := start("a"), start("b")
	waitFor(t, 2*time.Minute, "a leader in sync", func() bool {
		return (a.status(t).Leader && a.env(t, "dev").Phase == statusapi.PhaseInSync) ||
			(b.status(t).Leader && b.env(t, "dev").Phase == statusapi.PhaseInSync)
	})
	leader, standby := a, b
	if b.status(t).Leader {
		leader, standby = b, a
	}
	if standby.status(t).Leader {
		t.Fatal("both daemons lead")
	}
	actions := func(r *running) float64 {
		_, body := r.get(t, "/metrics")
		n := 0.0
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, "digitops_release_actions_total{") {
				var v float64
				if _, err := fmtSscan(line[strings.LastIndex(line, " ")+1:], &v); err == nil {
					n += v
				}
			}
		}
		return n
	}
	time.Sleep(2 * time.Second) // several standby passes
	if n := actions(standby); n != 0 {
		t.Errorf("the standby took %v Helm actions", n)
	}
	if n := actions(leader); n != 4 {
		t.Errorf("the leader took %v Helm actions, want 4 installs", n)
	}
	leader.stop()
	waitFor(t, 30*time.Second, "the standby takes over", func() bool { return standby.status(t).Leader })
}

// A desired state that fails (refused by the apiserver) is rolled back, and the daemon
// does not take its own rollback for a manual one nor retry at full speed:
// it waits (backoff), says when it tries again, and tries at once on a
// retry request.
func TestDaemon_failedUpgradeBacksOff(t *testing.T) {
	tenv := testenv.ForTest(t, testenv.Options{}) // no controllers: nothing becomes ready
	g := quickstartRepo(t)
	// Syncs every 300ms, so that a retry at full speed would show.
	fast := strings.Replace(g.read("digitops.yaml"), "      interval: 1m\n", "      interval: 300ms\n", 1)
	if !strings.Contains(fast, "interval: 300ms") {
		t.Fatal("could not edit the quickstart configuration")
	}
	g.commit("fast", map[string]string{"digitops.yaml": fast})
	r := startDaemon(t, daemon.Options{
		Sources:  []daemon.SourceOptions{{URL: g.dir}},
		Cluster:  clusterOf(tenv),
		Interval: 300 * time.Millisecond,
		Debounce: 50 * time.Millisecond,
		APIToken: apiToken,
	})
	waitFor(t, 2*time.Minute, "dev in sync", func() bool { return r.env(t, "dev").Phase == statusapi.PhaseInSync })

	// A commit the apiserver refuses (a negative replica count): the
	// upgrade fails at once and is rolled back.
	cfg := strings.Replace(g.read("digitops.yaml"), "      wait: false\n", "      wait: false\n      remediation: {backoff: 20s, maxBackoff: 1h}\n", 1)
	cfg = strings.Replace(cfg, "          - replicas: 2\n", "          - replicas: -1\n", 1)
	if !strings.Contains(cfg, "backoff: 20s") || !strings.Contains(cfg, "replicas: -1") {
		t.Fatal("could not edit the quickstart configuration")
	}
	g.commit("egov-user refused", map[string]string{"digitops.yaml": cfg})
	const upgrades = `digitops_release_actions_total{action="upgrade",environment="dev",release="egov-user",result="failed"}`
	waitFor(t, 30*time.Second, "the failed upgrade", func() bool { v, _ := metricValue(t, r, upgrades); return v >= 1 })

	// Many intervals later: still one attempt, and the plan says why.
	time.Sleep(5 * time.Second)
	if v, _ := metricValue(t, r, upgrades); v != 1 {
		t.Errorf("%v failed upgrades within 5s of syncs every 300ms, want 1 (then a 20s backoff)", v)
	}
	var user statusapi.Release
	for _, rel := range r.env(t, "dev").Releases {
		if rel.Name == "egov-user" {
			user = rel
		}
	}
	if user.Phase != statusapi.PhaseFailing || user.Failures != 1 || user.NextAttempt == nil || time.Until(*user.NextAttempt) < 5*time.Second {
		t.Errorf("egov-user while backing off: %+v", user)
	}
	if strings.Contains(user.Reason, "written outside digitops") {
		t.Errorf("digitops took its own rollback for a manual one: %s", user.Reason)
	}

	// A retry tries at once.
	if code := r.post(t, "/api/v1/environments/dev/releases/egov-user/retry", apiToken); code != http.StatusOK {
		t.Fatalf("retry: %d", code)
	}
	waitFor(t, 30*time.Second, "the retried upgrade", func() bool { v, _ := metricValue(t, r, upgrades); return v >= 2 })
}

// TestDaemon_watchDrift: a hand edit of an object a release deployed is
// corrected from the watch event within seconds, while the environment's
// full sync is busy waiting for another release to become ready (here it
// never does: no controllers), and with no full drift check due. A manager
// that undoes every correction is reported once as a fight, and the
// corrections back off instead of a write loop.
func TestDaemon_watchDrift(t *testing.T) {
	tenv := testenv.ForTest(t, testenv.Options{})
	g := quickstartRepo(t)
	r := startDaemon(t, daemon.Options{
		Sources:       []daemon.SourceOptions{{URL: g.dir}},
		Cluster:       clusterOf(tenv),
		Interval:      time.Hour,
		DriftInterval: time.Hour,
		DriftDebounce: 200 * time.Millisecond,
		Debounce:      50 * time.Millisecond,
		ShutdownGrace: time.Second, // the full sync is still waiting at the end
		Webhooks:      daemon.WebhookSecrets{GitHub: webhookSecret},
	})
	waitFor(t, 2*time.Minute, "dev in sync", func() bool { return r.env(t, "dev").Phase == statusapi.PhaseInSync })
	ctx := context.Background()
	cs := kubernetes.NewForConfigOrDie(tenv.Config)

	// Keep the full sync busy: egov-user's upgrade first waits for what it
	// needs, egov-mdms-service, to be ready, which never comes, for up to
	// 90s.
	cfg := strings.Replace(g.read("digitops.yaml"), "      wait: false\n", "      wait: true\n", 1)
	cfg = strings.Replace(cfg, "      timeout: 2m\n", "      timeout: 90s\n", 1)
	cfg = strings.Replace(cfg, "          - replicas: 2\n", "          - replicas: 3\n", 1)
	if !strings.Contains(cfg, "replicas: 3") || !strings.Contains(cfg, "wait: true") {
		t.Fatal("could not change the quickstart configuration")
	}
	g.commit("egov-user: 3 replicas, wait", map[string]string{"digitops.yaml": cfg})
	busySince := time.Now()
	githubPush(t, r, g.dir, webhookSecret)
	time.Sleep(2 * time.Second) // the full sync plans, then waits

	edit := func(value, manager string) {
		t.Helper()
		patch := `{"data":{"timezone":"` + value + `"}}`
		if _, err := cs.CoreV1().ConfigMaps("egov").Patch(ctx, "egov-config", types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: manager}); err != nil {
			t.Fatal(err)
		}
	}
	timezone := func() string {
		cm, err := cs.CoreV1().ConfigMaps("egov").Get(ctx, "egov-config", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cm.Data["timezone"]
	}
	want := timezone()
	edited := time.Now()
	edit("UTC-hand-edit", "kubectl-edit")
	waitFor(t, 15*time.Second, "the hand edit corrected", func() bool { return timezone() == want })
	reaction := time.Since(edited)
	t.Logf("hand edit corrected %s after the edit, with the full sync busy for %s", reaction.Round(time.Millisecond), time.Since(busySince).Round(time.Millisecond))
	if reaction > 5*time.Second {
		t.Errorf("the correction took %s, want a few seconds at most", reaction)
	}
	if time.Since(busySince) > 80*time.Second {
		t.Fatal("the full sync's wait ended before the check: the test shows nothing")
	}

	// A fighter: whatever digitops puts back, it changes again.
	stop := make(chan struct{})
	fights := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if timezone() != "UTC-fighter" {
				edit("UTC-fighter", "fighter")
				fights++
			}
		}
	}()
	const fightMetric = `digitops_drift_fights_total{environment="dev",release="egov-config"}`
	waitFor(t, 30*time.Second, "the fight reported", func() bool { v, _ := metricValue(t, r, fightMetric); return v == 1 })
	noted := false
	for _, rel := range r.env(t, "dev").Releases {
		for _, n := range rel.Notes {
			if rel.Name == "egov-config" && strings.Contains(n, "fighting with manager fighter on field ConfigMap/egov/egov-config /data/timezone") {
				noted = true
			}
		}
	}
	if !noted {
		t.Errorf("no fight note on egov-config: %+v", r.env(t, "dev").Releases)
	}
	atReport := fights
	time.Sleep(6 * time.Second)
	close(stop)
	<-done
	// Backed off: 400ms, 800ms, 1.6s, 3.2s… after the report, not one
	// correction per debounce (about 25 in 6s).
	if after := fights - atReport; after > 5 {
		t.Errorf("%d corrections in the 6s after the fight was reported, want the corrections to back off", after)
	}
	if v, _ := metricValue(t, r, fightMetric); v != 1 {
		t.Errorf("fights counted %v times, want once", v)
	}
}
