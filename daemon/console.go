package daemon

import (
	"context"
	"errors"

	"github.com/digitops/digitops/daemon/history"
	"github.com/digitops/digitops/daemon/web"
	"github.com/digitops/digitops/internal/statusapi"
)

// errConsoleTODO marks the console's backend methods being written
// (issue #27): each answers this error until it lands.
var errConsoleTODO = errors.New("not available yet")

// EnvironmentDetail: see web.Backend.
func (b webBackend) EnvironmentDetail(ctx context.Context, env string) (statusapi.EnvironmentDetail, error) {
	return statusapi.EnvironmentDetail{}, errConsoleTODO
}

// ReleaseDetail: see web.Backend.
func (b webBackend) ReleaseDetail(ctx context.Context, env, release string) (statusapi.ReleaseDetail, error) {
	return statusapi.ReleaseDetail{}, errConsoleTODO
}

// SyncNow wakes env's loop with the trigger "manual"; its next sync plans
// in full (no cheap unchanged check) against what the remote has now.
// Failed releases keep their backoff: that is what retry is for.
func (b webBackend) SyncNow(_ context.Context, env, release string) (statusapi.Environment, error) {
	d := b.d
	l, ok := d.environment(env)
	if !ok {
		return statusapi.Environment{}, web.NotFound("no environment " + env)
	}
	if release != "" {
		if err := releaseKnown(l, release); err != nil {
			return statusapi.Environment{}, err
		}
	}
	l.retried.Store(true)
	l.src.stale()
	d.log.Info("sync asked", "environment", env, "release", release)
	l.wakeBy(history.TriggerManual)
	return l.snapshot(), nil
}

// Rollback: see web.Backend.
func (b webBackend) Rollback(ctx context.Context, env, release string, to int) (statusapi.ReleaseDetail, error) {
	return statusapi.ReleaseDetail{}, errConsoleTODO
}
