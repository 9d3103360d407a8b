package reconciler_test

import (
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/release"

	"github.com/digitops/digitops/reconciler"
)

func TestDetermineReleaseState(t *testing.T) {
	now := time.Date(2025, 11, 25, 12, 0, 0, 0, time.UTC)
	desired := reconciler.Desired{Name: "egov-user", Namespace: "egov", ChartDigest: "chart-1", ValuesDigest: "values-1"}
	// live builds a live release owned by environment dev with the desired
	// digests, deployed at revision 3, then lets the case change it.
	live := func(change func(l *reconciler.LiveRelease)) *reconciler.LiveRelease {
		l := &reconciler.LiveRelease{
			Name: "egov-user", Namespace: "egov", Version: 3, Status: release.StatusDeployed,
			Modified: now.Add(-time.Hour), Environment: "dev",
			ChartDigest: "chart-1", ValuesDigest: "values-1", LastDeployed: 3,
		}
		if change != nil {
			change(l)
		}
		return l
	}
	tests := []struct {
		name string
		// live is the newest live revision, nil when the release is absent.
		live *reconciler.LiveRelease
		// action is the decision expected.
		action reconciler.Action
		// reason is a substring the reason must contain.
		reason string
	}{
		{
			name:   "absent",
			live:   nil,
			action: reconciler.ActionInstall,
			reason: "not installed",
		},
		{
			name:   "unchanged",
			live:   live(nil),
			action: reconciler.ActionNone,
			reason: "unchanged",
		},
		{
			name:   "chart changed",
			live:   live(func(l *reconciler.LiveRelease) { l.ChartDigest = "chart-0" }),
			action: reconciler.ActionUpgrade,
			reason: "chart changed",
		},
		{
			name:   "values changed",
			live:   live(func(l *reconciler.LiveRelease) { l.ValuesDigest = "values-0" }),
			action: reconciler.ActionUpgrade,
			reason: "values changed",
		},
		{
			name:   "chart and values changed",
			live:   live(func(l *reconciler.LiveRelease) { l.ChartDigest, l.ValuesDigest = "chart-0", "values-0" }),
			action: reconciler.ActionUpgrade,
			reason: "chart and values changed",
		},
		{
			name: "pending-upgrade older than the timeout",
			live: live(func(l *reconciler.LiveRelease) {
				l.Version, l.Status, l.Modified = 4, release.StatusPendingUpgrade, now.Add(-10*time.Minute)
			}),
			action: reconciler.ActionUnlock,
			reason: "stuck in pending-upgrade for 10m0s (revision 4)",
		},
		{
			name: "pending-install older than the timeout",
			live: live(func(l *reconciler.LiveRelease) {
				l.Version, l.Status, l.Modified, l.LastDeployed = 1, release.StatusPendingInstall, now.Add(-6*time.Minute), 0
			}),
			action: reconciler.ActionUnlock,
			reason: "stuck in pending-install",
		},
		{
			name: "pending-rollback older than the timeout",
			live: live(func(l *reconciler.LiveRelease) {
				l.Version, l.Status, l.Modified = 5, release.StatusPendingRollback, now.Add(-time.Hour)
			}),
			action: reconciler.ActionUnlock,
			reason: "stuck in pending-rollback",
		},
		{
			name: "pending-upgrade younger than the timeout",
			live: live(func(l *reconciler.LiveRelease) {
				l.Version, l.Status, l.Modified = 4, release.StatusPendingUpgrade, now.Add(-time.Minute)
			}),
			action: reconciler.ActionSkip,
			reason: "another operation is in progress (pending-upgrade, revision 4)",
		},
		{
			name:   "uninstalling",
			live:   live(func(l *reconciler.LiveRelease) { l.Status = release.StatusUninstalling }),
			action: reconciler.ActionSkip,
			reason: "being uninstalled",
		},
		{
			name: "failed with a deployed revision",
			live: live(func(l *reconciler.LiveRelease) {
				l.Version, l.Status = 4, release.StatusFailed
			}),
			action: reconciler.ActionUpgrade,
			reason: "last attempt failed (revision 4)",
		},
		{
			name: "failed without a deployed revision",
			live: live(func(l *reconciler.LiveRelease) {
				l.Version, l.Status, l.LastDeployed = 1, release.StatusFailed, 0
			}),
			action: reconciler.ActionInstall,
			reason: "last install failed (revision 1)",
		},
		{
			name: "failed takeover: upgraded in place, never uninstalled",
			live: live(func(l *reconciler.LiveRelease) {
				l.Version, l.Status, l.LastDeployed, l.TookOver = 1, release.StatusFailed, 0, true
			}),
			action: reconciler.ActionUpgrade,
			reason: "never uninstalled",
		},
		{
			name:   "failed with the same digests is still retried",
			live:   live(func(l *reconciler.LiveRelease) { l.Version, l.Status = 4, release.StatusFailed }),
			action: reconciler.ActionUpgrade,
			reason: "last attempt failed",
		},
		{
			name:   "uninstalled with history kept",
			live:   live(func(l *reconciler.LiveRelease) { l.Status, l.LastDeployed = release.StatusUninstalled, 0 }),
			action: reconciler.ActionInstall,
			reason: "uninstalled with history kept",
		},
		{
			name:   "owned by another environment",
			live:   live(func(l *reconciler.LiveRelease) { l.Environment = "prod" }),
			action: reconciler.ActionSkip,
			reason: `owned by environment "prod"`,
		},
		{
			name: "owned by another environment, even when failed",
			live: live(func(l *reconciler.LiveRelease) {
				l.Environment, l.Status = "prod", release.StatusFailed
			}),
			action: reconciler.ActionSkip,
			reason: `owned by environment "prod"`,
		},
		{
			name:   "not owned (no label): adopted",
			live:   live(func(l *reconciler.LiveRelease) { l.Environment, l.ChartDigest, l.ValuesDigest = "", "", "" }),
			action: reconciler.ActionUpgrade,
			reason: "adopting",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := reconciler.DetermineReleaseState(reconciler.StateInput{
				Environment:    "dev",
				Desired:        desired,
				Live:           tt.live,
				Now:            now,
				PendingTimeout: 5 * time.Minute,
			})
			if got.Action != tt.action {
				t.Errorf("action = %s (%s), want %s", got.Action, got.Reason, tt.action)
			}
			if !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("reason = %q, want it to contain %q", got.Reason, tt.reason)
			}
		})
	}
}
