package daemon

import (
	"context"
	"errors"

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

// SyncNow: see web.Backend.
func (b webBackend) SyncNow(ctx context.Context, env, release string) (statusapi.Environment, error) {
	return statusapi.Environment{}, errConsoleTODO
}

// Rollback: see web.Backend.
func (b webBackend) Rollback(ctx context.Context, env, release string, to int) (statusapi.ReleaseDetail, error) {
	return statusapi.ReleaseDetail{}, errConsoleTODO
}
