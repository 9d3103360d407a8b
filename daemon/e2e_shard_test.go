package daemon_test

import (
	"context"
	"fmt"
	"math"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/digitops/digitops/daemon"
	"github.com/digitops/digitops/daemon/shard"
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/internal/testenv"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// shardEnvs is how many environments the sharding test spreads.
const shardEnvs = 30

// shardRepo is a native-layout repository of shardEnvs environments, each
// one release of a ConfigMap chart in its own namespace, without waits.
func shardRepo(t *testing.T, message string) *gitRepo {
	g := newGitRepo(t, "")
	g.commit("environments", shardFiles(message))
	return g
}

func shardFiles(message string) map[string]string {
	var cfg strings.Builder
	cfg.WriteString("environments:\n")
	for i := range shardEnvs {
		fmt.Fprintf(&cfg, `  - name: env-%02d
    layout: native
    sync: {interval: 3s, wait: false}
    releases:
      - name: app
        namespace: shard-%02d
        chart: charts/app
        values: [{message: %q}]
`, i, i, message)
	}
	return map[string]string{
		"digitops.yaml":                cfg.String(),
		"charts/app/Chart.yaml":        "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"charts/app/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  message: {{ .Values.message | quote }}\n",
	}
}

// shardReplica is one in-process replica of serve --shard.
type shardReplica struct {
	id   string
	run  *running
	link *testenv.Partition
}

func startReplica(t *testing.T, tenv *testenv.Env, repo *gitRepo, id string) *shardReplica {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	link := &testenv.Partition{}
	home, err := kubernetes.NewForConfig(link.Config(tenv.Config))
	if err != nil {
		t.Fatal(err)
	}
	r := startDaemonOn(t, ln, daemon.Options{
		Sources: []daemon.SourceOptions{{URL: repo.dir}},
		Cluster: func(context.Context, manifest.ClusterRef) (*kube.Cluster, error) {
			return kube.NewCluster(tenv.Config)
		},
		Home:     tenv.Config,
		Interval: 3 * time.Second,
		APIToken: apiToken,
		Shard: &daemon.Sharding{
			Client:        home,
			Namespace:     "default",
			Identity:      id,
			Address:       "http://" + ln.Addr().String(),
			LeaseDuration: 6 * time.Second,
			RenewInterval: 2 * time.Second,
			RetryPeriod:   200 * time.Millisecond,
		},
	})
	return &shardReplica{id: id, run: r, link: link}
}

// owned is the replica's digitops_shard_owned_environments.
func (r *shardReplica) owned(t *testing.T) int {
	v, ok := metricValue(t, r.run, "digitops_shard_owned_environments")
	if !ok {
		t.Fatalf("%s exports no digitops_shard_owned_environments", r.id)
	}
	return int(v)
}

// revisions reads, for each environment, the Helm revisions of its release
// and the replica that wrote each (label digitops.io/replica).
func revisions(t *testing.T, c kubernetes.Interface) map[string]map[int]string {
	t.Helper()
	out := map[string]map[int]string{}
	for i := range shardEnvs {
		env := fmt.Sprintf("env-%02d", i)
		list, err := c.CoreV1().Secrets(fmt.Sprintf("shard-%02d", i)).List(context.Background(), metav1.ListOptions{LabelSelector: "owner=helm,name=app"})
		if err != nil {
			t.Fatal(err)
		}
		out[env] = map[int]string{}
		for _, s := range list.Items {
			v, _ := strconv.Atoi(s.Labels["version"])
			out[env][v] = s.Labels[kube.LabelReplica]
		}
	}
	return out
}

// allAt waits until every environment is in sync at revision rev of its
// release, as replica r reports all of them (its own and, through their
// owners, the others'), and returns each environment's owner.
func allAt(t *testing.T, r *shardReplica, rev int, timeout time.Duration) map[string]string {
	t.Helper()
	var last statusapi.Status
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		last = r.run.status(t)
		owners := map[string]string{}
		for _, e := range last.Environments {
			if e.Phase != statusapi.PhaseInSync || len(e.Releases) != 1 || e.Releases[0].Revision != rev || e.Owner == "" {
				break
			}
			owners[e.Name] = e.Owner
		}
		if len(owners) == shardEnvs {
			return owners
		}
		time.Sleep(200 * time.Millisecond)
	}
	var bad []string
	for _, e := range last.Environments {
		if e.Phase != statusapi.PhaseInSync || len(e.Releases) != 1 || e.Releases[0].Revision != rev {
			bad = append(bad, fmt.Sprintf("%s (%s, owner %q %s, error %q)", e.Name, e.Phase, e.Owner, e.OwnerError, e.LastError))
		}
	}
	t.Fatalf("after %s, not all environments in sync at revision %d: %s", timeout, rev, strings.Join(bad, "; "))
	return nil
}

// checkOnce checks that every environment's release has revisions 1..rev,
// each written once, and revision rev by one of the replicas that owned the
// environment while it was written (owners: one map per moment, the
// environment's owner in each; nil skips the check).
func checkOnce(t *testing.T, c kubernetes.Interface, rev int, owners ...map[string]string) {
	t.Helper()
	for env, revs := range revisions(t, c) {
		if len(revs) != rev {
			var got []int
			for v := range revs {
				got = append(got, v)
			}
			sort.Ints(got)
			t.Errorf("%s: Helm revisions %v, want 1..%d (each change applied once)", env, got, rev)
			continue
		}
		var allowed []string
		for _, o := range owners {
			allowed = append(allowed, o[env])
		}
		if len(owners) > 0 && !slices.Contains(allowed, revs[rev]) {
			t.Errorf("%s: revision %d written by %q, its owners then %v", env, rev, revs[rev], allowed)
		}
	}
}

func TestDaemon_shard(t *testing.T) {
	tenv := testenv.ForTest(t, testenv.Options{})
	admin, err := kubernetes.NewForConfig(tenv.Config)
	if err != nil {
		t.Fatal(err)
	}
	repo := shardRepo(t, "v1")
	rs := []*shardReplica{
		startReplica(t, tenv, repo, "replica-0"),
		startReplica(t, tenv, repo, "replica-1"),
		startReplica(t, tenv, repo, "replica-2"),
	}

	// 1. Three replicas: each environment owned and installed once; every
	// replica answers for all of them.
	owners := allAt(t, rs[0], 1, 3*time.Minute)
	for _, r := range rs[1:] {
		if got := allAt(t, r, 1, 30*time.Second); fmt.Sprint(got) != fmt.Sprint(owners) {
			t.Errorf("%s reports owners %v, replica-0 %v", r.id, got, owners)
		}
	}
	sum := 0
	for _, r := range rs {
		n := r.owned(t)
		if n == 0 {
			t.Errorf("%s owns no environment", r.id)
		}
		sum += n
	}
	if sum != shardEnvs {
		t.Errorf("owned gauges sum to %d, want %d", sum, shardEnvs)
	}
	// Each replica exports its own environments' series only.
	for _, r := range rs {
		for env, owner := range owners {
			_, has := metricValue(t, r.run, fmt.Sprintf(`digitops_sync_total{environment=%q,result="success"}`, env))
			if has != (owner == r.id) {
				t.Errorf("%s: series of %s exported = %v, its owner is %s", r.id, env, has, owner)
			}
		}
	}
	// The first members race for the Leases until all are seen: who
	// installed is not known, only that each installed once.
	checkOnce(t, admin, 1)

	// 2. A fourth replica joins: only its share moves, and a commit
	// touching every environment during the hand-over is applied once.
	rs = append(rs, startReplica(t, tenv, repo, "replica-3"))
	repo.commit("v2", shardFiles("v2"))
	after := allAt(t, rs[3], 2, 2*time.Minute)
	moved := 0
	for env, owner := range after {
		if owners[env] != owner {
			moved++
		}
	}
	t.Logf("join: %d of %d environments moved", moved, shardEnvs)
	if limit := int(math.Ceil(shardEnvs/4.0)) + 2; moved == 0 || moved > limit {
		t.Errorf("%d environments moved on the join, want 1..%d", moved, limit)
	}
	want := shard.Assign(envNames(), []string{"replica-0", "replica-1", "replica-2", "replica-3"})
	for env, owner := range after {
		if want[env] != owner {
			t.Errorf("%s owned by %s, assigned to %s", env, owner, want[env])
		}
	}
	// The commit lands during the join: the old owner or the new one.
	checkOnce(t, admin, 2, owners, after)
	if v, _ := metricValue(t, rs[3].run, "digitops_shard_handovers_total"); int(v) != rs[3].owned(t) {
		t.Errorf("replica-3 counts %v hand-overs, owns %d (all taken from others)", v, rs[3].owned(t))
	}

	// 3. A replica dies (its Leases are never released): its environments
	// are taken over within the lease duration and one sync, and a commit
	// touching all is applied once each.
	dead := rs[1]
	dead.link.Cut()
	killed := time.Now()
	dead.run.stop()
	rs = []*shardReplica{rs[0], rs[2], rs[3]}
	waitFor(t, time.Minute, "the dead replica's environments owned again", func() bool {
		n := 0
		for _, r := range rs {
			n += r.owned(t)
		}
		return n == shardEnvs
	})
	t.Logf("failover: all environments owned again %s after the kill (lease 6 s)", time.Since(killed).Round(100*time.Millisecond))
	if took := time.Since(killed); took > 6*time.Second+3*time.Second+5*time.Second {
		t.Errorf("failover took %s, want ≤ lease duration + one sync", took)
	}
	repo.commit("v3", shardFiles("v3"))
	owners = allAt(t, rs[0], 3, 2*time.Minute)
	for _, owner := range owners {
		if owner == dead.id {
			t.Errorf("the dead replica still owns environments: %v", owners)
			break
		}
	}
	checkOnce(t, admin, 3, owners)

	// 4. A replica is cut from the home cluster: it stops acting before its
	// Leases expire; the others take them and apply the next commit once.
	cut := rs[0]
	mine := 0
	for _, o := range owners {
		if o == cut.id {
			mine++
		}
	}
	cut.link.Cut()
	cutAt := time.Now()
	waitFor(t, 6*time.Second, "the partitioned replica to stop acting", func() bool { return cut.owned(t) == 0 })
	t.Logf("partition: %s stopped acting on %d environments %s after the cut (lease 6 s)", cut.id, mine, time.Since(cutAt).Round(100*time.Millisecond))
	repo.commit("v4", shardFiles("v4"))
	owners = allAt(t, rs[1], 4, 2*time.Minute)
	for env, o := range owners {
		if o == cut.id {
			t.Errorf("%s still owned by the partitioned replica", env)
		}
	}
	checkOnce(t, admin, 4, owners)
}

func envNames() []string {
	out := make([]string, shardEnvs)
	for i := range out {
		out[i] = fmt.Sprintf("env-%02d", i)
	}
	return out
}
