package daemon

import (
	"context"
	"errors"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/digitops/digitops/daemon/history"
)

// LeaderElection configures leader election on a Lease.
type LeaderElection struct {
	// Client talks to the cluster holding the Lease.
	Client kubernetes.Interface
	// Namespace and Name locate the Lease.
	Namespace, Name string
	// Identity names this replica; the host name when empty.
	Identity string
	// LeaseDuration, RenewDeadline and RetryPeriod are client-go's; 15 s,
	// 10 s and 2 s when zero.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// errLostLeadership stops the daemon: another replica may already apply.
var errLostLeadership = errors.New("leader election lost")

// runElection campaigns until ctx is cancelled. While it leads, the daemon
// applies; when it loses the lease it returns errLostLeadership, which
// stops the daemon (the in-flight Helm actions get the grace period; the
// new leader skips a release left pending by them).
func (d *Daemon) runElection(ctx context.Context, le *LeaderElection) error {
	id := le.Identity
	if id == "" {
		id, _ = os.Hostname()
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: le.Namespace, Name: le.Name},
		Client:     le.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
	lost := make(chan struct{})
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   orDefault(le.LeaseDuration, 15*time.Second),
		RenewDeadline:   orDefault(le.RenewDeadline, 10*time.Second),
		RetryPeriod:     orDefault(le.RetryPeriod, 2*time.Second),
		ReleaseOnCancel: true,
		Name:            le.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) {
				d.log.Info("leading: this replica applies", "identity", id)
				d.leading.Store(true)
				for _, l := range d.loops() {
					l.wakeBy(history.TriggerLeader)
				}
			},
			OnStoppedLeading: func() {
				d.leading.Store(false)
				close(lost)
			},
			OnNewLeader: func(leader string) {
				if leader != id {
					d.log.Info("standby: another replica leads", "leader", leader)
				}
			},
		},
	})
	if err != nil {
		return err
	}
	elector.Run(ctx)
	select {
	case <-lost:
		if ctx.Err() == nil {
			d.log.Error("lost the leader lease; stopping")
			return errLostLeadership
		}
	default:
	}
	return nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
