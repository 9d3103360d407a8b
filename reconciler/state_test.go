package reconciler_test

import (
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/release"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

func TestObserveRelease_decided(t *testing.T) {
	now := time.Date(2025, 11, 25, 12, 0, 0, 0, time.UTC)
	desired := reconciler.Desired{Name: "egov-user", Namespace: "egov", ChartDigest: "chart-1", ValuesDigest: "values-1"}
	// live builds a live release owned by environment dev with the desired
	// digests, deployed at revision 3, then lets the case change it.
	live := func(change func(l *kube.LiveRelease)) *kube.LiveRelease {
		l := &kube.LiveRelease{
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
		live *kube.LiveRelease
		// status is what is observed, action the decision expected.
		status reconciler.Status
		action reconciler.Action
		// reason is a substring the reason must contain.
		reason string
	}{
		{
			name:   "absent",
			live:   nil,
			status: reconciler.StatusAbsent,
			action: reconciler.ActionInstall,
			reason: "not installed",
		},
		{
			name:   "unchanged",
			live:   live(nil),
			status: reconciler.StatusInSync,
			action: reconciler.ActionNone,
			reason: "unchanged",
		},
		{
			name:   "chart changed",
			live:   live(func(l *kube.LiveRelease) { l.ChartDigest = "chart-0" }),
			status: reconciler.StatusOutOfSync,
			action: reconciler.ActionUpgrade,
			reason: "chart changed",
		},
		{
			name:   "values changed",
			live:   live(func(l *kube.LiveRelease) { l.ValuesDigest = "values-0" }),
			status: reconciler.StatusOutOfSync,
			action: reconciler.ActionUpgrade,
			reason: "values changed",
		},
		{
			name:   "chart and values changed",
			live:   live(func(l *kube.LiveRelease) { l.ChartDigest, l.ValuesDigest = "chart-0", "values-0" }),
			status: reconciler.StatusOutOfSync,
			action: reconciler.ActionUpgrade,
			reason: "chart and values changed",
		},
		{
			name: "pending-upgrade older than the timeout",
			live: live(func(l *kube.LiveRelease) {
				l.Version, l.Status, l.Modified = 4, release.StatusPendingUpgrade, now.Add(-10*time.Minute)
			}),
			status: reconciler.StatusStuck,
			action: reconciler.ActionUnlock,
			reason: "stuck in pending-upgrade for 10m0s (revision 4)",
		},
		{
			name: "pending-install older than the timeout",
			live: live(func(l *kube.LiveRelease) {
				l.Version, l.Status, l.Modified, l.LastDeployed = 1, release.StatusPendingInstall, now.Add(-6*time.Minute), 0
			}),
			status: reconciler.StatusStuck,
			action: reconciler.ActionUnlock,
			reason: "stuck in pending-install",
		},
		{
			name: "pending-rollback older than the timeout",
			live: live(func(l *kube.LiveRelease) {
				l.Version, l.Status, l.Modified = 5, release.StatusPendingRollback, now.Add(-time.Hour)
			}),
			status: reconciler.StatusStuck,
			action: reconciler.ActionUnlock,
			reason: "stuck in pending-rollback",
		},
		{
			name: "pending-upgrade past the timeout, within the margin",
			live: live(func(l *kube.LiveRelease) {
				l.Version, l.Status, l.Modified = 4, release.StatusPendingUpgrade, now.Add(-5*time.Minute-25*time.Second)
			}),
			status: reconciler.StatusLocked,
			action: reconciler.ActionSkip,
			reason: "another operation is in progress (pending-upgrade, revision 4)",
		},
		{
			name: "pending-upgrade younger than the timeout",
			live: live(func(l *kube.LiveRelease) {
				l.Version, l.Status, l.Modified = 4, release.StatusPendingUpgrade, now.Add(-time.Minute)
			}),
			status: reconciler.StatusLocked,
			action: reconciler.ActionSkip,
			reason: "another operation is in progress (pending-upgrade, revision 4)",
		},
		{
			name:   "uninstalling",
			live:   live(func(l *kube.LiveRelease) { l.Status = release.StatusUninstalling }),
			status: reconciler.StatusUninstalling,
			action: reconciler.ActionSkip,
			reason: "being uninstalled",
		},
		{
			name: "failed with a deployed revision",
			live: live(func(l *kube.LiveRelease) {
				l.Version, l.Status = 4, release.StatusFailed
			}),
			status: reconciler.StatusFailed,
			action: reconciler.ActionUpgrade,
			reason: "last attempt failed (revision 4)",
		},
		{
			name: "failed without a deployed revision",
			live: live(func(l *kube.LiveRelease) {
				l.Version, l.Status, l.LastDeployed = 1, release.StatusFailed, 0
			}),
			status: reconciler.StatusFailedInstall,
			action: reconciler.ActionInstall,
			reason: "last install failed (revision 1)",
		},
		{
			name: "failed takeover: upgraded in place, never uninstalled",
			live: live(func(l *kube.LiveRelease) {
				l.Version, l.Status, l.LastDeployed, l.TookOver = 1, release.StatusFailed, 0, true
			}),
			status: reconciler.StatusFailed,
			action: reconciler.ActionUpgrade,
			reason: "never uninstalled",
		},
		{
			name:   "failed with the same digests is still retried",
			live:   live(func(l *kube.LiveRelease) { l.Version, l.Status = 4, release.StatusFailed }),
			status: reconciler.StatusFailed,
			action: reconciler.ActionUpgrade,
			reason: "last attempt failed",
		},
		{
			name:   "uninstalled with history kept",
			live:   live(func(l *kube.LiveRelease) { l.Status, l.LastDeployed = release.StatusUninstalled, 0 }),
			status: reconciler.StatusUninstalled,
			action: reconciler.ActionInstall,
			reason: "uninstalled with history kept",
		},
		{
			name:   "owned by another environment",
			live:   live(func(l *kube.LiveRelease) { l.Environment = "prod" }),
			status: reconciler.StatusOwnedElsewhere,
			action: reconciler.ActionSkip,
			reason: `owned by environment "prod"`,
		},
		{
			name: "owned by another environment, even when failed",
			live: live(func(l *kube.LiveRelease) {
				l.Environment, l.Status = "prod", release.StatusFailed
			}),
			status: reconciler.StatusOwnedElsewhere,
			action: reconciler.ActionSkip,
			reason: `owned by environment "prod"`,
		},
		{
			name:   "not owned (no label): adopted",
			live:   live(func(l *kube.LiveRelease) { l.Environment, l.ChartDigest, l.ValuesDigest = "", "", "" }),
			status: reconciler.StatusUnmanaged,
			action: reconciler.ActionUpgrade,
			reason: "adopting",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := reconciler.StateInput{
				Environment:    "dev",
				Desired:        desired,
				Live:           tt.live,
				Now:            now,
				PendingTimeout: 5 * time.Minute,
			}
			if obs := reconciler.ObserveRelease(in); obs.Status != tt.status {
				t.Errorf("status = %s (%s), want %s", obs.Status, obs.Reason, tt.status)
			}
			got := reconciler.Decide(reconciler.ObserveRelease(in), "")
			if got.Action != tt.action {
				t.Errorf("action = %s (%s), want %s", got.Action, got.Reason, tt.action)
			}
			if !strings.Contains(got.Reason, tt.reason) {
				t.Errorf("reason = %q, want it to contain %q", got.Reason, tt.reason)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	drift := []drift.Item{{Object: "Deployment/egov/egov-user", Path: "/spec/replicas", Kind: drift.Changed}}
	tests := []struct {
		// obs is what was observed, mode the drift mode.
		obs  reconciler.Observation
		mode manifest.DriftMode
		// want is the decision.
		want reconciler.Decision
	}{
		{reconciler.Observation{Status: reconciler.StatusAbsent, Reason: "not installed"}, "", reconciler.Decision{Action: reconciler.ActionInstall, Reason: "not installed"}},
		{reconciler.Observation{Status: reconciler.StatusUninstalled, Reason: "r"}, "", reconciler.Decision{Action: reconciler.ActionInstall, Reason: "r"}},
		{reconciler.Observation{Status: reconciler.StatusFailedInstall, Reason: "r"}, "", reconciler.Decision{Action: reconciler.ActionInstall, Reason: "r"}},
		{reconciler.Observation{Status: reconciler.StatusFailed, Reason: "r"}, "", reconciler.Decision{Action: reconciler.ActionUpgrade, Reason: "r"}},
		{reconciler.Observation{Status: reconciler.StatusUnmanaged, Reason: "r"}, "", reconciler.Decision{Action: reconciler.ActionUpgrade, Reason: "r"}},
		{reconciler.Observation{Status: reconciler.StatusWrittenOutside, Reason: "r"}, "", reconciler.Decision{Action: reconciler.ActionUpgrade, Reason: "r"}},
		{reconciler.Observation{Status: reconciler.StatusOutOfSync, Reason: "chart changed"}, "", reconciler.Decision{Action: reconciler.ActionUpgrade, Reason: "chart changed"}},
		{reconciler.Observation{Status: reconciler.StatusStuck, Reason: "r"}, "", reconciler.Decision{Action: reconciler.ActionUnlock, Reason: "r"}},
		{reconciler.Observation{Status: reconciler.StatusRemoved, Reason: "no longer in Git"}, "", reconciler.Decision{Action: reconciler.ActionUninstall, Reason: "no longer in Git"}},
		{reconciler.Observation{Status: reconciler.StatusLocked, Reason: "r"}, "", reconciler.Decision{Action: reconciler.ActionSkip, Reason: "r"}},
		{reconciler.Observation{Status: reconciler.StatusUninstalling, Reason: "r"}, "", reconciler.Decision{Action: reconciler.ActionSkip, Reason: "r"}},
		{reconciler.Observation{Status: reconciler.StatusOwnedElsewhere, Reason: "r"}, "", reconciler.Decision{Action: reconciler.ActionSkip, Reason: "r"}},
		{reconciler.Observation{Status: reconciler.StatusSuspended, Reason: "suspended"}, manifest.DriftCorrect, reconciler.Decision{Action: reconciler.ActionSkip, Reason: "suspended"}},
		{reconciler.Observation{Status: reconciler.StatusHeldBack, Reason: "r"}, "", reconciler.Decision{Action: reconciler.ActionSkip, Reason: "r"}},
		{reconciler.Observation{Status: reconciler.StatusInvalid, Reason: "values.yaml:3: bad"}, "", reconciler.Decision{Action: reconciler.ActionError, Reason: "values.yaml:3: bad"}},
		{reconciler.Observation{Status: reconciler.StatusInSync, Reason: "unchanged"}, manifest.DriftCorrect, reconciler.Decision{Action: reconciler.ActionNone, Reason: "unchanged"}},
		{reconciler.Observation{Status: reconciler.StatusDrifted, Drift: drift}, manifest.DriftCorrect, reconciler.Decision{Action: reconciler.ActionCorrectDrift, Reason: "drifted: 1 drift item(s) on 1 object(s)"}},
		{reconciler.Observation{Status: reconciler.StatusDrifted, Drift: drift}, manifest.DriftWarn, reconciler.Decision{Action: reconciler.ActionNone, Reason: "drifted: 1 drift item(s) on 1 object(s) (drift: warn, not corrected)"}},
	}
	for _, tt := range tests {
		if got := reconciler.Decide(tt.obs, tt.mode); got != tt.want {
			t.Errorf("Decide(%s, %s) = %+v, want %+v", tt.obs.Status, tt.mode, got, tt.want)
		}
	}
}
