package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/release"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// TestStatusFromServer: status --server prints the daemon's status
// document (daemon/testdata/status.json, what the daemon serves) as the
// golden text, and with -o json as it is, byte for byte: reading it into
// statusapi's types loses nothing.
func TestStatusFromServer(t *testing.T) {
	doc, err := os.ReadFile("../../daemon/testdata/status.json")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/status" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	}))
	defer srv.Close()
	var text, js strings.Builder
	if err := statusFromServer(t.Context(), &text, "text", srv.URL+"/"); err != nil {
		t.Fatal(err)
	}
	assertGolden(t, "status-server.txt", text.String())
	if err := statusFromServer(t.Context(), &js, "json", srv.URL); err != nil {
		t.Fatal(err)
	}
	if js.String() != string(doc) {
		t.Errorf("status --server -o json differs from the daemon's document:\n%s", js.String())
	}
}

func TestStepStatus(t *testing.T) {
	deployed := func(version int) *kube.LiveRelease {
		return &kube.LiveRelease{Name: "a", Namespace: "egov", Version: version, Status: release.StatusDeployed}
	}
	item := drift.Item{Object: "Deployment/egov/a", Path: "/spec/replicas", Kind: drift.Changed, Before: "1", After: "5"}
	spec := manifest.ReleaseSpec{Name: "a", Namespace: "egov"}
	tests := []struct {
		name string
		// step is the plan's step for the release.
		step reconciler.Step
		// state, revision, drift and err are the row's.
		state    string
		revision int
		drift    int
		err      string
	}{
		{"in sync", reconciler.Step{Release: spec, Status: reconciler.StatusInSync, Action: reconciler.ActionNone, Live: deployed(3)}, "deployed", 3, 0, ""},
		{"not installed", reconciler.Step{Release: spec, Status: reconciler.StatusAbsent, Action: reconciler.ActionInstall}, "not installed", 0, 0, ""},
		{"drifted, corrected by apply", reconciler.Step{Release: spec, Status: reconciler.StatusDrifted, Action: reconciler.ActionCorrectDrift, Live: deployed(2), Drift: []drift.Item{item}}, "drifted", 2, 1, ""},
		{"drifted, warn only", reconciler.Step{Release: spec, Status: reconciler.StatusDrifted, Action: reconciler.ActionNone, Live: deployed(2), Drift: []drift.Item{item}}, "drifted", 2, 1, ""},
		{"values changed: out of sync", reconciler.Step{Release: spec, Status: reconciler.StatusOutOfSync, Action: reconciler.ActionUpgrade, Live: deployed(4)}, "out-of-sync", 4, 0, ""},
		{"values changed, render unchanged: recorded, deployed", reconciler.Step{Release: spec, Status: reconciler.StatusRenderUnchanged, Action: reconciler.ActionRecord, Live: deployed(4)}, "deployed", 4, 0, ""},
		{"last upgrade failed: Helm's status", reconciler.Step{Release: spec, Status: reconciler.StatusFailed, Action: reconciler.ActionUpgrade, Live: &kube.LiveRelease{Version: 5, Status: release.StatusFailed}}, "failed", 5, 0, ""},
		{"another operation in progress", reconciler.Step{Release: spec, Status: reconciler.StatusLocked, Action: reconciler.ActionSkip, Live: &kube.LiveRelease{Version: 6, Status: release.StatusPendingUpgrade}}, "pending-upgrade", 6, 0, ""},
		{"no longer in Git", reconciler.Step{Release: spec, Status: reconciler.StatusRemoved, Action: reconciler.ActionUninstall, Live: deployed(7)}, "deployed (no longer in Git)", 7, 0, ""},
		{"in error: the plan's error, the live state", reconciler.Step{Release: spec, Status: reconciler.StatusInvalid, Action: reconciler.ActionError, Reason: "chart x: not found", Live: deployed(1)}, "deployed", 1, 0, "chart x: not found"},
		{"drift not checked", reconciler.Step{Release: spec, Status: reconciler.StatusInSync, Action: reconciler.ActionNone, Live: deployed(1), DriftError: "forbidden"}, "deployed", 1, 0, "forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := stepStatus(&tt.step)
			if got.Name != "a" || got.Namespace != "egov" || got.State != tt.state || got.Revision != tt.revision || len(got.Drift) != tt.drift || got.Error != tt.err {
				t.Errorf("stepStatus = %+v, want state %q, revision %d, %d drift item(s), error %q", got, tt.state, tt.revision, tt.drift, tt.err)
			}
			if got.Images == nil || got.Drift == nil {
				t.Errorf("images %v, drift %v: want empty lists, not null, in JSON", got.Images, got.Drift)
			}
		})
	}
}
