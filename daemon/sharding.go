package daemon

import (
	"context"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/digitops/digitops/daemon/shard"
)

// Sharding configures serve --shard: the environments are spread over the
// replicas through Leases of the home cluster (package shard), and every
// replica answers the API for all of them.
type Sharding struct {
	// Client talks to the home cluster holding the Leases; give it a
	// higher rate limit than client-go's default (a replica renews one
	// Lease per environment it owns).
	Client kubernetes.Interface
	// Namespace holds the Leases.
	Namespace string
	// Group names the shard group (the Leases' label value, and the
	// rollouts' Lease "<group>-rollouts"); "digitops" when empty.
	Group string
	// Identity names this replica, unique in the group.
	Identity string
	// Address is the URL the other replicas reach this replica's HTTP API
	// at (http://$POD_IP:port in the chart).
	Address string
	// LeaseDuration, RenewInterval and RetryPeriod are package shard's;
	// its defaults when zero.
	LeaseDuration, RenewInterval, RetryPeriod time.Duration
}

// newShard builds the shard manager of serve --shard.
func (d *Daemon) newShard(s *Sharding) (*shard.Manager, error) {
	return shard.New(shard.Options{
		Client:        s.Client,
		Namespace:     s.Namespace,
		Group:         s.Group,
		Identity:      s.Identity,
		Address:       s.Address,
		LeaseDuration: s.LeaseDuration,
		RenewInterval: s.RenewInterval,
		RetryPeriod:   s.RetryPeriod,
		Environments:  d.environmentNames,
		Changed:       d.ownershipChanged,
		Handover:      func(string) { d.metrics.ShardHandover() },
		Log:           d.log.With("component", "shard"),
	})
}

// environmentNames are the names of every environment of every source.
func (d *Daemon) environmentNames() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.envs))
	for name := range d.envs {
		out = append(out, name)
	}
	return out
}

// ownershipChanged wakes the loop of an environment this replica starts or
// stops owning: it syncs at once, or stands by and forgets its series.
func (d *Daemon) ownershipChanged(env string, _ bool) {
	d.metrics.ShardOwned(len(d.shard.Owned()))
	if l, ok := d.environment(env); ok {
		wake(l.wake)
	}
}

// acting returns whether this replica may act on env now and, with
// --shard, the guard to end when done (nil without: leader election or
// none decides, for all environments at once).
func (d *Daemon) acting(env string) (*shard.Guard, bool) {
	if d.shard == nil {
		return nil, d.leading.Load()
	}
	return d.shard.Begin(env)
}

// replica is this replica's identity with --shard, "" without.
func (d *Daemon) replica() string {
	if d.shard == nil {
		return ""
	}
	return d.shard.Identity()
}

// standby is a sync of an environment another replica owns (--shard):
// nothing is fetched or planned. When this replica owned it until now, it
// forgets what it knew: the environment's series (each replica exports
// its own environments'), the drift worker's target, and the last sync's
// revision, so that it plans in full if it owns it again.
func (l *envLoop) standby() {
	if !l.owned {
		return
	}
	l.owned = false
	l.commit, l.settled, l.fingerprint = "", false, ""
	l.drift.clearTarget()
	l.d.metrics.ForgetEnvironment(l.name)
	clear(l.releases)
	l.log.Info("standing by: another replica owns the environment")
}

// fenced is the drain channel of a sync: it closes when ctx ends or the
// guard is lost (another replica is about to own the environment), so
// that no Helm action starts after. Call stop when the sync is done.
func fenced(ctx context.Context, g *shard.Guard) (drain <-chan struct{}, stop func()) {
	if g == nil {
		return ctx.Done(), func() {}
	}
	out := make(chan struct{})
	done := make(chan struct{})
	var once sync.Once
	go func() {
		select {
		case <-ctx.Done():
		case <-g.Lost():
		case <-done:
			return
		}
		close(out)
	}()
	return out, func() { once.Do(func() { close(done) }) }
}

// runRolloutElection campaigns, with --shard, for the rollouts' Lease
// until ctx ends: its holder moves the rollouts (one replica decides
// promotions), the others follow their stored state. Losing it only
// stops deciding; the replica campaigns again.
func (d *Daemon) runRolloutElection(ctx context.Context, s *Sharding) {
	group := s.Group
	if group == "" {
		group = "digitops"
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: s.Namespace, Name: group + "-rollouts"},
		Client:     s.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: s.Identity},
	}
	duration := orDefault(s.LeaseDuration, shard.DefaultLeaseDuration)
	renew := orDefault(s.RenewInterval, shard.DefaultRenewInterval)
	for ctx.Err() == nil {
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   duration,
			RenewDeadline:   duration - renew,
			RetryPeriod:     orDefault(s.RetryPeriod, shard.DefaultRetryPeriod),
			ReleaseOnCancel: true,
			Name:            group + "-rollouts",
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(context.Context) {
					d.log.Info("moving the rollouts", "identity", s.Identity)
					d.rolloutsLeading.Store(true)
				},
				OnStoppedLeading: func() { d.rolloutsLeading.Store(false) },
				OnNewLeader:      func(id string) { d.rolloutsLeader.Store(id) },
			},
		})
		if err != nil {
			d.log.Error("unable to campaign for the rollouts' Lease", "error", err)
			return
		}
		elector.Run(ctx)
	}
}
