package daemon

import (
	"bytes"
	"encoding/json"
	"flag"
	"testing"
	"time"

	"github.com/digitops/digitops/internal/golden"
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/metrics"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestStatusJSON: the status document the daemon builds from a plan, its
// result and the environment's warnings (reconciler, metrics and loader
// values converted to statusapi's own types) encodes as
// testdata/status.json does, byte for byte: field names, omitted fields
// and value spellings are the contract of GET /api/v1/status
// (docs/cli.md). The golden was recorded when statusapi still used those
// packages' types.
func TestStatusJSON(t *testing.T) {
	at := time.Date(2025, 11, 30, 10, 2, 40, 0, time.UTC)
	next := at.Add(4 * time.Minute)
	steps := []reconciler.Step{
		{Release: manifest.ReleaseSpec{Name: "egov-user", Namespace: "egov"}, Action: reconciler.ActionUpgrade, Reason: "values changed", Live: &kube.LiveRelease{Version: 3}},
		{Release: manifest.ReleaseSpec{Name: "pgr-services", Namespace: "egov"}, Action: reconciler.ActionError, Reason: `config-as-code/x.yaml:42: release "pgr-services": boom`},
		{Release: manifest.ReleaseSpec{Name: "mdms", Namespace: "egov"}, Action: reconciler.ActionNone, Reason: "drifted: 4 drift item(s) on 2 object(s)", Live: &kube.LiveRelease{Version: 7}, Drift: []drift.Item{
			{Object: "Deployment/egov/mdms", Path: "/spec/replicas", Kind: drift.Changed, Before: "1", After: "5", Manager: "kubectl-edit"},
			{Object: "Deployment/egov/mdms", Path: "/metadata/labels/x", Kind: drift.Added, After: `"y"`},
			{Object: "Deployment/egov/mdms", Path: "/spec/template/spec/containers/name=app/env", Kind: drift.Removed, Before: `[{"name":"A","value":"1"}]`},
			{Object: "ConfigMap/egov/mdms-config", Kind: drift.Deleted},
		}},
		{Release: manifest.ReleaseSpec{Name: "zuul", Namespace: "egov"}, Action: reconciler.ActionCorrectDrift, Reason: "drifted: 1 drift item(s) on 1 object(s)", Live: &kube.LiveRelease{Version: 2}, Drift: []drift.Item{
			{Object: "Service/egov/zuul", Path: "/spec/ports/port=80/targetPort", Kind: drift.Changed, Before: "8080", After: "9090"},
		}},
		{Release: manifest.ReleaseSpec{Name: "cache", Namespace: "infra"}, Action: reconciler.ActionSkip, Reason: "suspended"},
		{Release: manifest.ReleaseSpec{Name: "old", Namespace: "egov"}, Action: reconciler.ActionUninstall, Reason: "no longer in Git", Live: &kube.LiveRelease{Version: 9}},
		{Release: manifest.ReleaseSpec{Name: "new", Namespace: "egov"}, Action: reconciler.ActionInstall, Reason: "not installed"},
		{Release: manifest.ReleaseSpec{Name: "blocked", Namespace: "egov"}, Action: reconciler.ActionBlocked, Reason: `needs "pgr-services", which is in error (would install: not installed)`},
	}
	results := map[string]reconciler.ReleaseResult{
		"egov-user": {Outcome: reconciler.OutcomeSucceeded, RevisionAfter: 4, Notes: []string{"field /spec/x renders differently on every run"}},
		"zuul":      {Outcome: reconciler.OutcomeFailed, Error: "unable to restore Service/egov/zuul: conflict"},
		"old":       {Outcome: reconciler.OutcomeSkipped},
		"new":       {Outcome: reconciler.OutcomeUnchanged},
	}
	plan := &reconciler.Plan{Steps: steps}
	var releases []statusapi.Release
	for i := range steps {
		st := &steps[i]
		prev := statusapi.Release{Name: st.Release.Name, Namespace: st.Release.Namespace, Suspended: st.Reason == "suspended"}
		if st.Live != nil {
			prev.Revision = st.Live.Version
		}
		if st.Release.Name == "new" {
			prev.Failures, prev.NextAttempt = 2, &next
		}
		rr, acted := results[st.Release.Name]
		var notes []string
		if st.Release.Name == "mdms" {
			notes = []string{"drift fight: kubectl-edit wrote /spec/replicas again"}
		}
		releases = append(releases, releaseStatus(prev, st, rr, acted, notes))
	}
	ct := at.Add(-29 * time.Second)
	success := at.Add(-5 * time.Minute)
	st := statusapi.Status{
		Leader: true,
		Ready:  true,
		Sources: []statusapi.Source{
			{URL: "https://github.com/org/envs", Ref: "main", Revision: "main@sha1:4f1c", Environments: []string{"dev", "prod"}},
			{URL: "https://github.com/org/other", Environments: []string{}, Error: "no digitops.yaml"},
		},
		Environments: []statusapi.Environment{
			{
				Name: "dev", Source: "https://github.com/org/envs", Phase: statusapi.PhaseFailing,
				Revision: "main@sha1:4f1c", CommitTime: &ct, CommitAuthor: "Asha Rao", CommitSubject: "dev: egov-user 2.9.1",
				LastSync:    syncStatus(at, 3412*time.Millisecond, metrics.SyncFailure, "main@sha1:4f1c", plan),
				LastSuccess: &success,
				LastError:   "1 release(s) failed: zuul",
				Warnings: warnings([]manifest.Warning{
					{File: "config-as-code/chart.yaml", Line: 57, Release: "egov-user", Msg: "listed twice with different tags"},
					{File: "digitops.yaml", Msg: "unknown module m_x"},
				}),
				Releases: releases,
			},
			{
				Name: "prod", Source: "https://github.com/org/envs", Phase: statusapi.PhasePending, Suspended: true,
				LastSync: syncStatus(at, 0, metrics.SyncSuspended, "", nil),
				Releases: []statusapi.Release{},
			},
		},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf) // as daemon/web writes it
	enc.SetIndent("", "  ")
	if err := enc.Encode(st); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/status.json", buf.Bytes(), *update)
}
