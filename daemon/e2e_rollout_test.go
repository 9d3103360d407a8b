package daemon_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/digitops/digitops/daemon"
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/internal/testenv"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// rolloutRepo is a repository with three environments on two clusters
// (dev and prod on a, qa on b) in two waves, each running one release of a
// chart whose ConfigMap carries values.yaml's version; broken: true makes
// the chart fail to render.
func rolloutRepo(t *testing.T, promURL, hookURL string) *gitRepo {
	g := newGitRepo(t, "")
	env := func(name, cluster string) string {
		return `  - name: ` + name + `
    cluster: {context: ` + cluster + `}
    sync: {interval: 1s, wait: false}
    notify: [{provider: webhook, url: "` + hookURL + `", events: [rollout-promoted, rollout-halted]}]
    releases:
      - {name: app, namespace: ` + name + `, chart: charts/app, values: [values.yaml]}
`
	}
	g.commit("rollout", map[string]string{
		"digitops.yaml": `rollouts:
  - name: egov
    waves:
      - environments: [dev]
        soak: 4s
        prometheus: {url: "` + promURL + `", query: "sum(rate(http_errors_total[1m])) or vector(0)", max: 0.05}
      - environments: [qa, prod]
environments:
` + env("dev", "a") + env("qa", "b") + env("prod", "a"),
		"charts/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"charts/app/templates/cm.yaml": `{{- if .Values.broken }}{{ fail "broken on purpose" }}{{ end -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
data:
  version: {{ .Values.version | quote }}
`,
		"values.yaml": "version: \"1\"\n",
	})
	return g
}

// rolloutFixture is two control planes (dev and prod on a, qa on b), a
// Prometheus whose error rate the test sets, a webhook receiver and the
// rollout repository.
type rolloutFixture struct {
	t         *testing.T
	a, b      *testenv.Env
	errorRate atomic.Value // string
	hook      *fakeEndpoint
	g         *gitRepo
}

func newRolloutFixture(t *testing.T) *rolloutFixture {
	f := &rolloutFixture{t: t, a: testenv.ForTest(t, testenv.Options{}), b: testenv.ForTest(t, testenv.Options{}), hook: &fakeEndpoint{}}
	f.errorRate.Store("0")
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"` + f.errorRate.Load().(string) + `"]}]}}`))
	}))
	t.Cleanup(prom.Close)
	hooks := httptest.NewServer(f.hook)
	t.Cleanup(hooks.Close)
	f.g = rolloutRepo(t, prom.URL, hooks.URL+"/rollouts")
	return f
}

// options are a daemon's, on the fixture's clusters, the state in a.
func (f *rolloutFixture) options() daemon.Options {
	clusters := map[string]*testenv.Env{"a": f.a, "b": f.b}
	return daemon.Options{
		Sources:       []daemon.SourceOptions{{URL: f.g.dir}},
		CacheDir:      f.t.TempDir(),
		Interval:      time.Second,
		DriftInterval: time.Hour,
		RolloutTick:   200 * time.Millisecond,
		Home:          f.a.Config,
		APIToken:      apiToken,
		Cluster: func(_ context.Context, ref manifest.ClusterRef) (*kube.Cluster, error) {
			return kube.NewCluster(clusters[ref.Context].Config)
		},
	}
}

// version is the version an environment's ConfigMap carries, "" before
// the first install.
func (f *rolloutFixture) version(env string) string {
	tenv := f.a
	if env == "qa" {
		tenv = f.b
	}
	cm, err := kubernetes.NewForConfigOrDie(tenv.Config).CoreV1().ConfigMaps(env).Get(context.Background(), "app", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return ""
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return cm.Data["version"]
}

// versions are dev's, qa's and prod's versions, in that order.
func (f *rolloutFixture) versions() string {
	return f.version("dev") + f.version("qa") + f.version("prod")
}

// storedSoak is when the soak in the stored state began; it fails the
// test when none is in progress.
func (f *rolloutFixture) storedSoak() time.Time {
	cm, err := kubernetes.NewForConfigOrDie(f.a.Config).CoreV1().ConfigMaps("default").Get(context.Background(), daemon.RolloutConfigMap, metav1.GetOptions{})
	if err != nil {
		f.t.Fatalf("the rollout state is not in the home cluster: %v", err)
	}
	var stored struct {
		Wave      int        `json:"wave"`
		SoakSince *time.Time `json:"soakSince"`
	}
	if err := json.Unmarshal([]byte(cm.Data["egov"]), &stored); err != nil || stored.SoakSince == nil || stored.Wave != 0 {
		f.t.Fatalf("stored state %s (err %v), want wave 0 soaking", cm.Data["egov"], err)
	}
	return *stored.SoakSince
}

// TestDaemon_rollout rolls three commits through two waves on two control
// planes: a good one reaches qa and prod only after dev soaked; one that
// fails in dev halts the rollout with qa and prod left where they were; a
// failing Prometheus gate halts it too; promote and abort act through the
// API; a daemon restarted in the middle of a soak resumes it from the
// state stored in the cluster.
func TestDaemon_rollout(t *testing.T) {
	f := newRolloutFixture(t)
	g, hook, version, versions := f.g, f.hook, f.version, f.versions
	opts := f.options()
	r := startDaemon(t, opts)
	defer func() { r.stop() }()

	rolloutOf := func() statusapi.Rollout {
		for _, ro := range r.status(t).Rollouts {
			if ro.Name == "egov" {
				return ro
			}
		}
		return statusapi.Rollout{}
	}
	waitFor(t, 2*time.Minute, "every environment at the first commit", func() bool { return versions() == "111" })

	// A good commit: dev first; qa and prod after dev soaked 4 s.
	g.commit("v2", map[string]string{"values.yaml": "version: \"2\"\n"})
	waitFor(t, time.Minute, "dev at v2", func() bool { return version("dev") == "2" })
	devAt := time.Now()
	waitFor(t, 30*time.Second, "dev soaking", func() bool { return rolloutOf().SoakLeft != "" })
	if v := versions(); v != "211" {
		t.Fatalf("during dev's soak the environments run %s, want 211 (qa and prod wait)", v)
	}
	waitFor(t, time.Minute, "qa and prod at v2", func() bool { return versions() == "222" })
	if waited := time.Since(devAt); waited < 3*time.Second {
		t.Errorf("qa and prod got v2 %v after dev: the 4 s soak was not kept", waited)
	}
	waitFor(t, 30*time.Second, "the rollout complete", func() bool { return rolloutOf().Complete })

	// A commit that fails in dev halts the rollout; qa and prod stay.
	broken := g.commit("broken", map[string]string{"values.yaml": "version: \"3\"\nbroken: true\n"})
	waitFor(t, time.Minute, "the rollout halted on dev", func() bool {
		ro := rolloutOf()
		return strings.Contains(ro.Halted, "environment dev failed at "+broken[:7])
	})
	time.Sleep(2 * time.Second) // qa and prod have had every chance to move
	if v := versions(); v != "222" {
		t.Fatalf("after a halt the environments run %s, want 222", v)
	}
	if v, _ := metricValue(t, r, `digitops_rollout_halts_total{rollout="egov"}`); v != 1 {
		t.Errorf("halts counted %v, want 1", v)
	}
	waitFor(t, 20*time.Second, "rollout-halted and rollout-promoted on the webhook", func() bool {
		return hook.find("/rollouts", `"kind":"rollout-halted"`, `"environment":"dev"`, "environment dev failed at "+broken[:7]) &&
			hook.find("/rollouts", `"kind":"rollout-promoted"`, `"environment":"qa"`, "wave 1 stayed in sync for 4s")
	})

	// A fix, whose gate does not hold: halted on the gate.
	f.errorRate.Store("0.5")
	g.commit("v4", map[string]string{"values.yaml": "version: \"4\"\n"})
	waitFor(t, time.Minute, "the rollout halted on the gate", func() bool {
		return strings.Contains(rolloutOf().Halted, "wave 1 gate: query")
	})
	if v := versions(); v != "422" {
		t.Fatalf("after a failed gate the environments run %s, want 422", v)
	}
	rolloutInChromium(t, r, "wave 1 gate: query")
	// An operator promotes past it, through the API (token required).
	if code := r.post(t, "/api/v1/rollouts/egov/promote", ""); code != http.StatusUnauthorized {
		t.Errorf("promote without a token: %d", code)
	}
	if code := r.post(t, "/api/v1/rollouts/egov/promote", apiToken); code != http.StatusOK {
		t.Fatalf("promote: %d", code)
	}
	waitFor(t, time.Minute, "qa and prod at v4 after the promote", func() bool { return versions() == "444" })

	// A new commit, aborted during dev's soak: qa and prod stay.
	f.errorRate.Store("0")
	g.commit("v5", map[string]string{"values.yaml": "version: \"5\"\n"})
	waitFor(t, time.Minute, "dev at v5, soaking", func() bool { return version("dev") == "5" && rolloutOf().SoakLeft != "" })
	if code := r.post(t, "/api/v1/rollouts/egov/abort", apiToken); code != http.StatusOK {
		t.Fatalf("abort: %d", code)
	}
	time.Sleep(6 * time.Second) // past the soak
	if v, ro := versions(), rolloutOf(); v != "544" || ro.Halted != "aborted by an operator" {
		t.Fatalf("after an abort: environments %s, halted %q; want 544, aborted", v, ro.Halted)
	}

	// A restart in the middle of a soak resumes it: the state is in the
	// ConfigMap, not in memory. The soak is 20 s; the daemon stops 8 s into
	// it, so a soak started again would end 28 s after the first began.
	cfg := strings.Replace(g.read("digitops.yaml"), "soak: 4s", "soak: 20s", 1)
	g.commit("v6", map[string]string{"values.yaml": "version: \"6\"\n", "digitops.yaml": cfg})
	waitFor(t, time.Minute, "dev at v6, soaking", func() bool { return version("dev") == "6" && rolloutOf().SoakLeft != "" })
	time.Sleep(8 * time.Second)
	r.stop()
	soakSince := f.storedSoak()
	opts.CacheDir = t.TempDir() // a new pod: nothing cached
	r = startDaemon(t, opts)
	time.Sleep(2 * time.Second)
	if v := versions(); v != "644" {
		t.Fatalf("right after the restart the environments run %s, want 644 (qa and prod kept on v4)", v)
	}
	waitFor(t, time.Minute, "qa and prod at v6 after the resumed soak", func() bool { return versions() == "666" })
	if after := time.Since(soakSince); after > 25*time.Second {
		t.Errorf("qa and prod got v6 %v after the soak began: the restart started the soak again", after.Round(time.Second))
	}
	waitFor(t, 30*time.Second, "the rollout complete after the restart", func() bool { return rolloutOf().Complete })
	if v, _ := metricValue(t, r, `digitops_rollout_wave{rollout="egov"}`); v != 3 {
		t.Errorf("digitops_rollout_wave = %v, want 3 (complete)", v)
	}
}

// TestDaemon_rolloutSurvivesALeaderChange: two replicas with leader
// election; the leader is stopped 8 s into a 20 s soak; the standby, which
// kept qa and prod on their promoted commit all along, takes the Lease and
// finishes the soak where it was, not from the start.
func TestDaemon_rolloutSurvivesALeaderChange(t *testing.T) {
	f := newRolloutFixture(t)
	home := kubernetes.NewForConfigOrDie(f.a.Config)
	start := func(id string) *running {
		opts := f.options()
		opts.LeaderElection = &daemon.LeaderElection{
			Client: home, Namespace: "default", Name: "digitops-rollout-test", Identity: id,
			LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 200 * time.Millisecond,
		}
		return startDaemon(t, opts)
	}
	x, y := start("x"), start("y")
	defer func() { x.stop(); y.stop() }()
	g, version, versions := f.g, f.version, f.versions
	waitFor(t, 2*time.Minute, "every environment at the first commit", func() bool { return versions() == "111" })
	leader, standby := x, y
	if !x.status(t).Leader {
		leader, standby = y, x
	}
	soaking := func(r *running) bool {
		for _, ro := range r.status(t).Rollouts {
			if ro.Name == "egov" && ro.SoakLeft != "" {
				return true
			}
		}
		return false
	}

	cfg := strings.Replace(g.read("digitops.yaml"), "soak: 4s", "soak: 20s", 1)
	g.commit("v2", map[string]string{"values.yaml": "version: \"2\"\n", "digitops.yaml": cfg})
	waitFor(t, time.Minute, "dev at v2, soaking", func() bool { return version("dev") == "2" && soaking(leader) })
	time.Sleep(8 * time.Second)
	soakSince := f.storedSoak()
	leader.stop()
	waitFor(t, 30*time.Second, "the standby leads", func() bool { return standby.status(t).Leader })
	if v := versions(); v != "211" {
		t.Fatalf("after the leader change the environments run %s, want 211 (qa and prod still wait)", v)
	}
	waitFor(t, time.Minute, "qa and prod at v2 after the soak", func() bool { return versions() == "222" })
	if after := time.Since(soakSince); after > 27*time.Second {
		t.Errorf("qa and prod got v2 %v after the soak began: the new leader started the soak again", after.Round(time.Second))
	}
}

// TestDaemon_rolloutSharded: two replicas with --shard; the rollout is
// moved by the holder of the rollouts' Lease, whichever replica owns dev,
// qa and prod. The replica owning qa dies 8 s into a 20 s soak; the other
// takes qa over, keeps it (and prod) on the promoted commit until the soak
// ends, then moves them.
func TestDaemon_rolloutSharded(t *testing.T) {
	f := newRolloutFixture(t)
	type replica struct {
		r    *running
		link *testenv.Partition
	}
	start := func(id string) replica {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		link := &testenv.Partition{}
		opts := f.options()
		opts.Shard = &daemon.Sharding{
			Client: kubernetes.NewForConfigOrDie(link.Config(f.a.Config)), Namespace: "default", Identity: id, Address: "http://" + ln.Addr().String(),
			LeaseDuration: 6 * time.Second, RenewInterval: 2 * time.Second, RetryPeriod: 200 * time.Millisecond,
		}
		return replica{startDaemonOn(t, ln, opts), link}
	}
	x, y := start("x"), start("y")
	g, version, versions := f.g, f.version, f.versions
	waitFor(t, 2*time.Minute, "every environment at the first commit", func() bool { return versions() == "111" })
	soaking := func(r *running) bool {
		for _, ro := range r.status(t).Rollouts {
			if ro.Name == "egov" && ro.SoakLeft != "" {
				return true
			}
		}
		return false
	}
	cfg := strings.Replace(g.read("digitops.yaml"), "soak: 4s", "soak: 20s", 1)
	g.commit("v2", map[string]string{"values.yaml": "version: \"2\"\n", "digitops.yaml": cfg})
	waitFor(t, time.Minute, "dev at v2, soaking", func() bool { return version("dev") == "2" && soaking(x.r) })
	time.Sleep(8 * time.Second)
	soakSince := f.storedSoak()
	if v := versions(); v != "211" {
		t.Fatalf("during the soak the environments run %s, want 211", v)
	}
	victim, survivor := x, y
	if owner := y.r.env(t, "qa").Owner; owner == "y" {
		victim, survivor = y, x
	} else if owner != "x" {
		t.Fatalf("qa's owner is %q", owner)
	}
	victim.link.Cut()
	victim.r.stop()
	waitFor(t, 30*time.Second, "the survivor owns every environment", func() bool {
		v, _ := metricValue(t, survivor.r, "digitops_shard_owned_environments")
		return v == 3
	})
	if v := versions(); v != "211" {
		t.Fatalf("after the hand-over the environments run %s, want 211 (qa and prod still wait)", v)
	}
	waitFor(t, time.Minute, "qa and prod at v2 after the soak", func() bool { return versions() == "222" })
	if after := time.Since(soakSince); after > 30*time.Second {
		t.Errorf("qa and prod got v2 %v after the soak began: the soak started again", after.Round(time.Second))
	}
}
