package metrics_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/digitops/digitops/metrics"
)

// record exercises every method once, as a sync of two environments would.
func record(r *metrics.Recorder) {
	end := time.Unix(1700000000, 0)
	r.Fetch("dev", 20*time.Millisecond, nil)
	r.Fetch("dev", 30*time.Millisecond, errors.New("unreachable"))
	r.Revision("dev", "main@sha1:1111111111111111111111111111111111111111")
	r.Revision("dev", "main@sha1:2222222222222222222222222222222222222222")
	r.Sync("dev", metrics.SyncSuccess, 2*time.Second, end)
	r.Sync("dev", metrics.SyncFailure, time.Second, end.Add(time.Minute))
	r.CommitToDeploy("dev", 42*time.Second)
	r.ReleaseAction("dev", "egov-user", "upgrade", "succeeded")
	r.Drift("dev", "egov-user", "egov", true, false)
	r.Drift("dev", "egov-user", "egov", true, false) // still drifted: not a new detection
	r.Drift("dev", "pgr-services", "egov", false, false)
	r.Sync("prod", metrics.SyncUnchanged, time.Millisecond, end)
}

func TestRecorder_series(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	r := metrics.New(reg)
	record(r)
	want := `
# HELP digitops_drift_detected_total Times drift was found on a release, corrected or not (a drift left from the sync before is not counted again).
# TYPE digitops_drift_detected_total counter
digitops_drift_detected_total{environment="dev",release="egov-user"} 1
# HELP digitops_last_successful_sync_timestamp_seconds Unix time of the end of the last successful sync of an environment.
# TYPE digitops_last_successful_sync_timestamp_seconds gauge
digitops_last_successful_sync_timestamp_seconds{environment="dev"} 1.7e+09
digitops_last_successful_sync_timestamp_seconds{environment="prod"} 1.7e+09
# HELP digitops_release_actions_total Helm actions digitops took on a release, by action and result.
# TYPE digitops_release_actions_total counter
digitops_release_actions_total{action="upgrade",environment="dev",release="egov-user",result="succeeded"} 1
# HELP digitops_release_drifted 1 when the live objects of a release differ from what digitops deployed, else 0.
# TYPE digitops_release_drifted gauge
digitops_release_drifted{environment="dev",namespace="egov",release="egov-user"} 1
digitops_release_drifted{environment="dev",namespace="egov",release="pgr-services"} 0
# HELP digitops_source_fetch_total Fetches of an environment's Git source, by result.
# TYPE digitops_source_fetch_total counter
digitops_source_fetch_total{environment="dev",result="failure"} 1
digitops_source_fetch_total{environment="dev",result="success"} 1
# HELP digitops_source_revision_info The source revision an environment was last synced from (value always 1).
# TYPE digitops_source_revision_info gauge
digitops_source_revision_info{environment="dev",revision="main@sha1:2222222222222222222222222222222222222222"} 1
# HELP digitops_sync_total Syncs of an environment, by result (success, failure, unchanged, suspended, standby).
# TYPE digitops_sync_total counter
digitops_sync_total{environment="dev",result="failure"} 1
digitops_sync_total{environment="dev",result="success"} 1
digitops_sync_total{environment="prod",result="unchanged"} 1
`
	err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"digitops_drift_detected_total", "digitops_last_successful_sync_timestamp_seconds",
		"digitops_release_actions_total", "digitops_release_drifted", "digitops_source_fetch_total",
		"digitops_source_revision_info", "digitops_sync_total")
	if err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(reg, "digitops_commit_to_deploy_seconds"); n != 1 {
		t.Errorf("commit_to_deploy series = %d, want 1", n)
	}
	if n := testutil.CollectAndCount(reg, "digitops_sync_duration_seconds"); n != 2 {
		t.Errorf("sync_duration series = %d, want 2", n)
	}
}

func TestRecorder_forget(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	r := metrics.New(reg)
	record(r)
	r.ForgetRelease("dev", "egov-user")
	for _, name := range []string{"digitops_drift_detected_total", "digitops_release_actions_total"} {
		if n := testutil.CollectAndCount(reg, name); n != 0 {
			t.Errorf("%s: %d series left after ForgetRelease", name, n)
		}
	}
	if n := testutil.CollectAndCount(reg, "digitops_release_drifted"); n != 1 {
		t.Errorf("release_drifted: %d series, want only pgr-services", n)
	}
	// Drifting again after a forget is a new detection.
	r.Drift("dev", "egov-user", "egov", true, false)
	redrift := `
# HELP digitops_drift_detected_total Times drift was found on a release, corrected or not (a drift left from the sync before is not counted again).
# TYPE digitops_drift_detected_total counter
digitops_drift_detected_total{environment="dev",release="egov-user"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(redrift), "digitops_drift_detected_total"); err != nil {
		t.Errorf("after a forget and a new drift: %v", err)
	}
	r.ForgetEnvironment("dev")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "environment" && l.GetValue() == "dev" {
					t.Errorf("%s still has a dev series after ForgetEnvironment", mf.GetName())
				}
			}
		}
	}
	// The revision series comes back, alone, after a forget.
	r.Revision("dev", "main@sha1:3333333333333333333333333333333333333333")
	if n := testutil.CollectAndCount(reg, "digitops_source_revision_info"); n != 1 {
		t.Errorf("revision_info series = %d, want 1", n)
	}
}

func TestRecorder_promlint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	record(metrics.New(reg))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	// The 10 that record sets, and the two shard series, always present.
	if len(mfs) != 12 {
		t.Errorf("gathered %d metric families, want 12", len(mfs))
	}
}

func TestRecorder_noCommitInLabels(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	record(metrics.New(reg))
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "digitops_source_revision_info" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "sha1:") {
					t.Errorf("%s has a commit in label %s", mf.GetName(), l.GetName())
				}
			}
		}
	}
}

// TestRecorder_driftCorrected: in drift mode correct a sync finds the drift
// and restores it; every such hand edit counts, and the gauge drops back.
func TestRecorder_driftCorrected(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	r := metrics.New(reg)
	r.Drift("dev", "egov-mdms", "egov", true, true)
	r.Drift("dev", "egov-mdms", "egov", false, false)
	r.Drift("dev", "egov-mdms", "egov", true, true) // edited by hand again
	want := `
# HELP digitops_drift_detected_total Times drift was found on a release, corrected or not (a drift left from the sync before is not counted again).
# TYPE digitops_drift_detected_total counter
digitops_drift_detected_total{environment="dev",release="egov-mdms"} 2
# HELP digitops_release_drifted 1 when the live objects of a release differ from what digitops deployed, else 0.
# TYPE digitops_release_drifted gauge
digitops_release_drifted{environment="dev",namespace="egov",release="egov-mdms"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "digitops_drift_detected_total", "digitops_release_drifted"); err != nil {
		t.Error(err)
	}
}
