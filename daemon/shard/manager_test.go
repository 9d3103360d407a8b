package shard

import (
	"context"
	"fmt"

	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/digitops/digitops/internal/testenv"
)

// actions is the order in which replicas took and acted on environments,
// as the fencing must keep it: once a replica has taken an environment
// (its first guard of a new ownership), no other acts on it until it is
// taken again. An environment may come back to an earlier owner (the
// assignment changed back).
type actions struct {
	mu  sync.Mutex
	log []action
}

type action struct {
	env, replica string
	take         bool
}

func (a *actions) add(env, replica string, take bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.log = append(a.log, action{env, replica, take})
}

// interleaved returns the actions of a replica on an environment another
// replica had taken since.
func (a *actions) interleaved() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	owner := map[string]string{}
	var bad []string
	for _, x := range a.log {
		switch {
		case x.take:
			owner[x.env] = x.replica
		case owner[x.env] != x.replica:
			bad = append(bad, fmt.Sprintf("%s acted on %s after %s took it", x.replica, x.env, owner[x.env]))
		}
	}
	return bad
}

type replica struct {
	id     string
	m      *Manager
	link   *testenv.Partition
	cancel context.CancelFunc
	done   chan struct{}
}

type cluster struct {
	t       *testing.T
	cfg     *rest.Config
	envs    []string
	acted   *actions
	opts    Options
	handoff atomic.Int64
}

func (c *cluster) start(id string) *replica {
	c.t.Helper()
	link := &testenv.Partition{}
	client, err := kubernetes.NewForConfig(link.Config(c.cfg))
	if err != nil {
		c.t.Fatal(err)
	}
	o := c.opts
	o.Client, o.Identity, o.Address = client, id, "http://"+id
	o.Environments = func() []string { return c.envs }
	o.Handover = func(string) { c.handoff.Add(1) }
	m, err := New(o)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{id: id, m: m, link: link, cancel: cancel, done: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Go(func() { m.Run(ctx, 0) })
	wg.Go(func() { c.act(ctx, r) })
	go func() { wg.Wait(); close(r.done) }()
	c.t.Cleanup(func() { cancel(); <-r.done })
	return r
}

// act is the replica's work: every few milliseconds, one action on each
// environment it owns, inside a guard, unless the guard is lost. The first
// guard of each ownership (a new Lost channel) records the take.
func (c *cluster) act(ctx context.Context, r *replica) {
	epochs := map[string]<-chan struct{}{}
	for ctx.Err() == nil {
		for _, env := range c.envs {
			g, ok := r.m.Begin(env)
			if !ok {
				continue
			}
			if epochs[env] != g.Lost() {
				epochs[env] = g.Lost()
				c.acted.add(env, r.id, true)
			}
			select {
			case <-g.Lost():
			default:
				c.acted.add(env, r.id, false)
			}
			g.End()
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// owners returns each environment's owners among rs.
func owners(rs ...*replica) map[string][]string {
	out := map[string][]string{}
	for _, r := range rs {
		for _, env := range r.m.Owned() {
			out[env] = append(out[env], r.id)
		}
	}
	return out
}

// assigned waits until each environment is owned by the one replica of rs
// Assign gives it to, and returns how long that took.
func (c *cluster) assigned(timeout time.Duration, rs ...*replica) time.Duration {
	c.t.Helper()
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.id)
	}
	want := Assign(c.envs, ids)
	start := time.Now()
	for {
		o := owners(rs...)
		ok := len(o) == len(c.envs)
		for env, ids := range o {
			ok = ok && len(ids) == 1 && ids[0] == want[env]
		}
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			c.t.Fatalf("ownership not as assigned after %s: owners %v, assigned %v", timeout, o, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestManager_shardsFailsOverAndFences(t *testing.T) {
	env := testenv.ForTest(t, testenv.Options{})
	c := &cluster{t: t, cfg: env.Config, acted: &actions{}}
	for i := range 30 {
		c.envs = append(c.envs, fmt.Sprintf("env-%02d", i))
	}
	c.opts = Options{
		Namespace:     "default",
		LeaseDuration: 6 * time.Second,
		RenewInterval: 2 * time.Second,
		RetryPeriod:   100 * time.Millisecond,
		Log:           slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	}
	rs := []*replica{c.start("replica-0"), c.start("replica-1"), c.start("replica-2")}
	// The first members race for the Leases; once all are seen the
	// assignment rules, and everyone owns some.
	c.assigned(30*time.Second, rs...)
	for _, r := range rs {
		if n := len(r.m.Owned()); n == 0 {
			t.Errorf("%s owns none of 30", r.id)
		}
	}

	// A replica dies: its Leases are never released, they expire.
	dead := rs[1]
	lostEnvs := dead.m.Owned()
	dead.link.Cut()
	dead.cancel()
	<-dead.done
	killed := time.Now()
	c.assigned(3*c.opts.LeaseDuration, rs[0], rs[2])
	took := time.Since(killed)
	t.Logf("failover of %d environments: %s (lease duration %s)", len(lostEnvs), took, c.opts.LeaseDuration)
	if took > c.opts.LeaseDuration+2*time.Second {
		t.Errorf("failover took %s, want ≤ lease duration %s + 2 s", took, c.opts.LeaseDuration)
	}

	// A replica joins: only its share moves, each hand-over after the
	// old owner stopped.
	before := owners(rs[0], rs[2])
	handoffs := c.handoff.Load()
	joined := c.start("replica-3")
	took = c.assigned(20*time.Second, rs[0], rs[2], joined)
	after := owners(rs[0], rs[2], joined)
	moved := 0
	for env, ids := range after {
		if before[env][0] != ids[0] {
			moved++
		}
	}
	t.Logf("join: %d environments handed over in %s", moved, took)
	if limit := int(math.Ceil(30.0/3)) + 2; moved > limit || moved == 0 {
		t.Errorf("%d environments moved on the join, want 1..%d", moved, limit)
	}
	if got := c.handoff.Load() - handoffs; got != int64(moved) {
		t.Errorf("%d hand-overs counted for %d moves", got, moved)
	}

	// A replica is cut from the apiserver: it stops acting before its
	// Leases expire, and the others take them after.
	cut := rs[0]
	cutEnvs := cut.m.Owned()
	cut.link.Cut()
	start := time.Now()
	for len(cut.m.Owned()) > 0 {
		if time.Since(start) > c.opts.LeaseDuration {
			t.Fatalf("a partitioned replica still owns %v after the lease duration", cut.m.Owned())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("partitioned replica stopped acting on %d environments after %s", len(cutEnvs), time.Since(start))
	c.assigned(3*c.opts.LeaseDuration, rs[2], joined)

	if bad := c.acted.interleaved(); len(bad) > 0 {
		t.Fatalf("two replicas acted on one environment at once:\n%v", bad)
	}
	if len(c.acted.log) == 0 {
		t.Fatal("no replica acted")
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
