package reconciler_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/digitops/digitops/internal/redact"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/source/manifest"
)

// planted is a secret value that the apiserver quotes back in its error (an
// invalid label value).
const planted = "s3cr3t token!"

// badConfig is egov-config plus a release "bad" whose extra values are
// given, on the quickstart's mdms chart; timeout bounds the readiness gate.
func badConfig(timeout, extra string) string {
	return fmt.Sprintf(`environments:
  - name: dev
    layout: native
    sync: {timeout: %s}
    releases:
      - name: egov-config
        namespace: egov
        chart: charts/services/egov-config
      - name: bad
        namespace: egov
        chart: charts/services/egov-mdms-service
        values: [environments/dev.yaml, {name: bad%s}]
`, timeout, extra)
}

// safeBuffer is a bytes.Buffer for concurrent log writers.
type safeBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestApply_failedInstall: an install the apiserver rejects is uninstalled
// (remediation on) or left failed (off) and installed by the next sync once
// fixed; its error names the release and masks the secret value it quotes;
// the other release is deployed either way.
func TestApply_failedInstall(t *testing.T) {
	_, cluster := startCluster(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	repo := repoWith(t, badConfig("1m", `, labels: {team: "`+planted+`"}`))
	logs := &safeBuffer{}
	plantSecret := func(env *manifest.Environment) {
		for i := range env.Releases {
			env.Releases[i].SecretValues = []string{planted}
		}
	}
	run := syncRun{Repo: repo, Policy: noWait, Adjust: plantSecret,
		Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}

	// 1. Remediation on (the default): the failed release is uninstalled.
	_, res := run.mustRun(t, ctx, cluster)
	bad := resultOf(t, res, "bad")
	if bad.Outcome != reconciler.OutcomeFailed || !strings.Contains(bad.Error, `unable to install release "bad"`) || !strings.Contains(bad.Error, "(uninstalled)") {
		t.Errorf("bad: %s %q, want failed, naming the release, uninstalled", bad.Outcome, bad.Error)
	}
	if !strings.Contains(bad.Error, redact.Value(planted)) {
		t.Errorf("bad's error %q does not show the masked value %s", bad.Error, redact.Value(planted))
	}
	if r := resultOf(t, res, "egov-config"); r.Outcome != reconciler.OutcomeSucceeded {
		t.Errorf("egov-config: %s %q, want succeeded", r.Outcome, r.Error)
	}
	if h := helmStatuses(t, cluster, "egov", "bad"); len(h) != 0 {
		t.Errorf("bad's history after remediation = %v, want none", h)
	}
	if _, err := cluster.Clientset.CoreV1().Services("egov").Get(ctx, "bad", metav1.GetOptions{}); err == nil {
		t.Error("bad's Service is left behind after remediation")
	}

	// 2. Remediation off: the release stays failed ...
	run.Policy = func(p *manifest.SyncPolicy) { p.Wait, p.RemediateFailedInstall = false, false }
	_, res = run.mustRun(t, ctx, cluster)
	if r := resultOf(t, res, "bad"); r.Outcome != reconciler.OutcomeFailed || strings.Contains(r.Error, "(uninstalled)") {
		t.Errorf("bad without remediation: %s %q", r.Outcome, r.Error)
	}
	if h := helmStatuses(t, cluster, "egov", "bad"); strings.Join(h, ",") != "failed" {
		t.Errorf("bad's history without remediation = %v, want [failed]", h)
	}

	// ... and once Git fixes it, the next sync installs it afresh.
	writeConfig(t, repo, badConfig("1m", ""))
	plan, res := run.mustRun(t, ctx, cluster)
	for _, st := range plan.Steps {
		if st.Release.Name == "bad" && (st.Action != reconciler.ActionInstall || st.Reason != "last install failed (revision 1)") {
			t.Errorf("plan for bad: %s (%s), want install after a failed install", st.Action, st.Reason)
		}
	}
	if r := resultOf(t, res, "bad"); r.Outcome != reconciler.OutcomeSucceeded || r.RevisionAfter != 1 {
		t.Errorf("fixed bad: %+v, want installed at revision 1", r)
	}

	if strings.Contains(logs.String(), planted) {
		t.Errorf("the planted secret is in the log:\n%s", logs.String())
	}
}

// TestApply_readinessTimeout runs without controllers, so a Deployment is
// never observed: the gate fails the install after the timeout and marks the
// revision failed (remediation off) or uninstalls it (on); a release of a
// ConfigMap only is ready on existence.
func TestApply_readinessTimeout(t *testing.T) {
	_, cluster := startCluster(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	repo := repoWith(t, badConfig("3s", ""))
	run := syncRun{Repo: repo, Policy: func(p *manifest.SyncPolicy) { p.RemediateFailedInstall = false }}

	_, res := run.mustRun(t, ctx, cluster)
	if r := resultOf(t, res, "egov-config"); r.Outcome != reconciler.OutcomeSucceeded {
		t.Errorf("egov-config through the gate: %s %q, want succeeded", r.Outcome, r.Error)
	}
	bad := resultOf(t, res, "bad")
	want := `release "bad" is not ready: not ready after 3s: Deployment/egov/bad: generation 1 not yet observed`
	if bad.Outcome != reconciler.OutcomeFailed || !strings.Contains(bad.Error, want) {
		t.Errorf("bad: %s %q, want failed with %q", bad.Outcome, bad.Error, want)
	}
	if bad.Duration < 3*time.Second {
		t.Errorf("bad failed after %s, before the 3s timeout", bad.Duration)
	}
	if h := helmStatuses(t, cluster, "egov", "bad"); strings.Join(h, ",") != "failed" {
		t.Errorf("bad's history = %v, want [failed] (marked failed as Helm's wait would)", h)
	}

	// Remediation on: the next sync retries the install and, still not
	// ready, uninstalls it.
	run.Policy = nil
	plan, res := run.mustRun(t, ctx, cluster)
	if s := plan.Summary(); s.Install != 1 || s.Changes() != 1 {
		t.Errorf("plan after a failed install = %+v, want one install", s)
	}
	if r := resultOf(t, res, "bad"); r.Outcome != reconciler.OutcomeFailed || !strings.Contains(r.Error, "(uninstalled)") {
		t.Errorf("bad with remediation: %s %q, want failed and uninstalled", r.Outcome, r.Error)
	}
	if h := helmStatuses(t, cluster, "egov", "bad"); len(h) != 0 {
		t.Errorf("bad's history = %v, want none", h)
	}
}

// TestApply_historyMax: Helm's history of a release is kept at HistoryMax
// revisions.
func TestApply_historyMax(t *testing.T) {
	_, cluster := startCluster(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	repo := repoWith(t, badConfig("1m", ""))
	run := syncRun{Repo: repo, Policy: func(p *manifest.SyncPolicy) { p.Wait, p.HistoryMax = false, 3 }}
	for i := 1; i <= 6; i++ {
		writeConfig(t, repo, badConfig("1m", fmt.Sprintf(", replicas: %d", i)))
		_, res := run.mustRun(t, ctx, cluster)
		if r := resultOf(t, res, "bad"); r.Outcome != reconciler.OutcomeSucceeded || r.RevisionAfter != i {
			t.Fatalf("sync %d: bad %+v, want revision %d", i, r, i)
		}
	}
	if h := helmStatuses(t, cluster, "egov", "bad"); strings.Join(h, ",") != "superseded,superseded,deployed" {
		t.Errorf("bad's history after 6 revisions = %v, want the newest 3", h)
	}
}

// revisionRefusingConfig is one release whose chart refuses to render at
// any revision after the first, which the plan's render (revision 1)
// does not see: Helm's upgrade fails before it writes a revision.
func revisionRefusingConfig(v string) map[string]string {
	return map[string]string{
		"digitops.yaml": `environments:
  - name: dev
    layout: native
    sync: {wait: false}
    releases:
      - {name: rev, namespace: egov, chart: charts/rev, values: [{v: "` + v + `"}]}
      - {name: dep, namespace: egov, chart: charts/dep, needs: [rev]}
`,
		"charts/dep/Chart.yaml":        "apiVersion: v2\nname: dep\nversion: 0.1.0\n",
		"charts/dep/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dep}\n",
		"charts/rev/Chart.yaml":        "apiVersion: v2\nname: rev\nversion: 0.1.0\n",
		"charts/rev/templates/cm.yaml": `{{- if gt (int .Release.Revision) 1 }}{{ fail "refused after the first revision" }}{{ end }}
apiVersion: v1
kind: ConfigMap
metadata: {name: rev}
data: {v: {{ .Values.v | quote }}}
`,
	}
}

// TestApply_upgradeRefusedBeforeAnyWriteIsNotRolledBack: an upgrade that
// fails before Helm writes a revision changed nothing, so nothing is
// rolled back, however many attempts: Helm's history stays as it was.
func TestApply_upgradeRefusedBeforeAnyWriteIsNotRolledBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, cluster := startCluster(t, false)
	repo := takeoverRepo(t, ctx, cluster, revisionRefusingConfig("1"), "")
	run := syncRun{Repo: repo, Policy: func(p *manifest.SyncPolicy) { p.Retries = 2 }}
	if _, res := run.mustRun(t, ctx, cluster); len(res.Failed()) > 0 {
		t.Fatalf("install: %+v", res.Failed())
	}
	writeFiles(t, repo, revisionRefusingConfig("2"))
	_, res := run.mustRun(t, ctx, cluster)
	r := resultOf(t, res, "rev")
	if r.Outcome != reconciler.OutcomeFailed || !strings.Contains(r.Error, "refused after the first revision") {
		t.Fatalf("rev: %s %q, want the upgrade to fail on the chart's refusal", r.Outcome, r.Error)
	}
	if strings.Contains(r.Error, "rolled back") {
		t.Errorf("rev: %q, want no rollback: nothing was written", r.Error)
	}
	if h := helmStatuses(t, cluster, "egov", "rev"); strings.Join(h, ",") != "deployed" {
		t.Errorf("rev's history = %v, want [deployed]: the failed attempts wrote nothing", h)
	}
	// dep, unchanged, needed nothing done: in sync, not skipped for rev.
	if d := resultOf(t, res, "dep"); d.Outcome != reconciler.OutcomeUnchanged || d.Error != "" {
		t.Errorf("dep (unchanged, needs the failed rev): %s %q, want unchanged with no error", d.Outcome, d.Error)
	}
}
