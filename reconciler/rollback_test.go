package reconciler

import (
	"errors"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"

	"github.com/digitops/digitops/reconciler/kube"
)

// TestOperatorRollback_check: what an operator's rollback refuses before
// anything is written.
func TestOperatorRollback_check(t *testing.T) {
	rev := func(version int, status release.Status, env string) *release.Release {
		return &release.Release{Name: "egov-user", Namespace: "egov", Version: version, Info: &release.Info{Status: status},
			Labels: map[string]string{kube.LabelEnvironment: env}}
	}
	for _, tc := range []struct {
		name    string
		history []*release.Release // the release's revisions
		to      int                // the revision asked for
		want    error              // the refusal, nil when allowed
	}{
		{"allowed", []*release.Release{rev(1, release.StatusSuperseded, "dev"), rev(2, release.StatusDeployed, "dev")}, 1, nil},
		{"no such revision", []*release.Release{rev(1, release.StatusSuperseded, "dev"), rev(2, release.StatusDeployed, "dev")}, 7, ErrRevisionNotFound},
		{"no release", nil, 1, driver.ErrReleaseNotFound},
		{"pending", []*release.Release{rev(1, release.StatusDeployed, "dev"), rev(2, release.StatusPendingUpgrade, "dev")}, 1, ErrReleaseLocked},
		{"another environment's", []*release.Release{rev(1, release.StatusSuperseded, "dev"), rev(2, release.StatusDeployed, "uat")}, 1, ErrNotOwned},
		{"not digitops's", []*release.Release{rev(1, release.StatusSuperseded, "dev"), rev(2, release.StatusDeployed, "")}, 1, ErrNotOwned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := storage.Init(driver.NewMemory())
			for _, r := range tc.history {
				if err := store.Create(r); err != nil {
					t.Fatal(err)
				}
			}
			_, err := OperatorRollback{Environment: "dev", Namespace: "egov", Name: "egov-user", To: tc.to}.check(&action.Configuration{Releases: store})
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("check = %v, want %v", err, tc.want)
			}
		})
	}
}
