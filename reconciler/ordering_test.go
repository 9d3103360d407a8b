package reconciler_test

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// dagConfig is a DAG of six services on the quickstart's mdms chart:
// a <- b <- d, a <- c, and e, f on their own; values adds to each service's
// values.
func dagConfig(values map[string]string) string {
	var b strings.Builder
	b.WriteString(`environments:
  - name: dev
    layout: native
    sync: {concurrency: 2, timeout: 90s}
    releases:
`)
	needs := map[string]string{"svc-b": "[svc-a]", "svc-c": "[svc-a]", "svc-d": "[svc-b]"}
	for _, n := range []string{"svc-a", "svc-b", "svc-c", "svc-d", "svc-e", "svc-f"} {
		b.WriteString("      - name: " + n + "\n        namespace: egov\n        chart: charts/services/egov-mdms-service\n")
		b.WriteString("        values: [environments/dev.yaml, {name: " + n + values[n] + "}]\n")
		if nd, ok := needs[n]; ok {
			b.WriteString("        needs: " + nd + "\n")
		}
	}
	return b.String()
}

// TestApply_readinessOrderingAndFailures runs on a control plane where pods
// become Ready (kwok). First sync: a release starts only when the
// Deployments of what it needs are Ready, and at most `concurrency` releases
// act at once, with some in parallel. Second sync: an upgrade the apiserver
// rejects is retried, rolled back each time, stops its dependant and leaves
// its sibling's upgrade alone.
func TestApply_readinessOrderingAndFailures(t *testing.T) {
	_, cluster := startCluster(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	repo := repoWith(t, dagConfig(nil))
	deployments := cluster.Clientset.AppsV1().Deployments("egov")

	// 1. Install: needs are Ready before their dependants start.
	progress := newProgressLog()
	var mu sync.Mutex
	var violations []string
	progress.onStart = func(step *reconciler.Step) {
		for _, need := range step.Release.Needs {
			d, err := deployments.Get(ctx, need, metav1.GetOptions{})
			if err != nil {
				mu.Lock()
				violations = append(violations, step.Release.Name+" started before "+need+" existed: "+err.Error())
				mu.Unlock()
				continue
			}
			if r := reconciler.DeploymentReadiness(d); !r.Ready {
				mu.Lock()
				violations = append(violations, step.Release.Name+" started while "+need+" was not ready: "+r.Message)
				mu.Unlock()
			}
		}
	}
	_, res := syncRun{Repo: repo, Progress: progress}.mustRun(t, ctx, cluster)
	if err := res.Err(); err != nil {
		for _, r := range res.Failed() {
			t.Logf("%s: %s", r.Name, r.Error)
		}
		t.Fatalf("first sync: %v", err)
	}
	for _, v := range violations {
		t.Error(v)
	}
	for _, name := range []string{"svc-a", "svc-b", "svc-c", "svc-d", "svc-e", "svc-f"} {
		d, err := deployments.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("Deployment %s: %v", name, err)
		}
		if r := reconciler.DeploymentReadiness(d); !r.Ready {
			t.Errorf("%s finished but its Deployment is not ready: %s", name, r.Message)
		}
	}
	for _, pair := range [][2]string{{"svc-a", "svc-b"}, {"svc-a", "svc-c"}, {"svc-b", "svc-d"}} {
		r := resultOf(t, res, pair[0])
		if done := r.Started.Add(r.Duration); progress.started[pair[1]].Before(done) {
			t.Errorf("%s started at %s, before %s (which it needs) was ready at %s", pair[1], progress.started[pair[1]].Format(time.StampMilli), pair[0], done.Format(time.StampMilli))
		}
	}
	if got := maxOverlap(res); got != 2 {
		t.Errorf("at most %d releases acted at once, want exactly 2 (concurrency 2, six releases)", got)
	}
	if res.APIRequests["POST"] == 0 {
		t.Errorf("API requests of an install sync = %v, want some POSTs", res.APIRequests)
	}

	// 2. svc-b's upgrade is rejected by the apiserver (negative replicas);
	// its sibling svc-c upgrades, its dependant svc-d does not start.
	writeConfig(t, repo, dagConfig(map[string]string{
		"svc-b": ", replicas: -1",
		"svc-c": ", replicas: 2",
		"svc-d": ", replicas: 2",
	}))
	_, res = syncRun{Repo: repo, Policy: func(p *manifest.SyncPolicy) { p.Retries = 1 }}.mustRun(t, ctx, cluster)
	b := resultOf(t, res, "svc-b")
	if b.Outcome != reconciler.OutcomeFailed || !strings.Contains(b.Error, `unable to upgrade release "svc-b"`) ||
		!strings.Contains(b.Error, "replicas") || !strings.Contains(b.Error, "rolled back to revision") {
		t.Errorf("svc-b: %s %q, want failed naming the release, the field and the rollback", b.Outcome, b.Error)
	}
	if c := resultOf(t, res, "svc-c"); c.Outcome != reconciler.OutcomeSucceeded || c.RevisionBefore != 1 || c.RevisionAfter != 2 {
		t.Errorf("sibling svc-c: %+v, want upgraded 1 -> 2", c)
	}
	if d := resultOf(t, res, "svc-d"); d.Outcome != reconciler.OutcomeSkipped || !strings.Contains(d.Error, `dependency "svc-b" did not succeed`) {
		t.Errorf("dependant svc-d: %s %q, want skipped for svc-b", d.Outcome, d.Error)
	}
	for _, name := range []string{"svc-a", "svc-e", "svc-f"} {
		if r := resultOf(t, res, name); r.Outcome != reconciler.OutcomeUnchanged {
			t.Errorf("%s: %s, want unchanged", name, r.Outcome)
		}
	}
	if err := res.Err(); err == nil || !strings.Contains(err.Error(), "svc-b") {
		t.Errorf("sync error %v, want one naming svc-b", err)
	}
	// Two attempts (Retries: 1), each rolled back: 1 deployed, then failed
	// and rollback twice.
	hist := helmStatuses(t, cluster, "egov", "svc-b")
	if len(hist) != 5 || hist[4] != "deployed" {
		t.Errorf("svc-b history %v, want 5 revisions ending deployed", hist)
	}
	if d, _ := deployments.Get(ctx, "svc-b", metav1.GetOptions{}); d == nil || *d.Spec.Replicas != 1 {
		t.Errorf("svc-b Deployment not back at 1 replica after the rollback")
	}
	if d, _ := deployments.Get(ctx, "svc-c", metav1.GetOptions{}); d == nil || *d.Spec.Replicas != 2 {
		t.Errorf("svc-c Deployment not upgraded to 2 replicas")
	}
	live, err := kube.ReadLiveState(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range live {
		if l.Status != "deployed" {
			t.Errorf("release %s is %s, want every release deployed", l.Name, l.Status)
		}
	}
}

// maxOverlap is the largest number of acting intervals [Started,
// Started+Duration] that overlap.
func maxOverlap(res *reconciler.Result) int {
	type event struct {
		at    time.Time
		delta int
	}
	var events []event
	for _, r := range res.Releases {
		if r.Started.IsZero() {
			continue
		}
		events = append(events, event{r.Started, 1}, event{r.Started.Add(r.Duration), -1})
	}
	sort.Slice(events, func(i, j int) bool {
		if events[i].at.Equal(events[j].at) {
			return events[i].delta < events[j].delta
		}
		return events[i].at.Before(events[j].at)
	})
	cur, best := 0, 0
	for _, e := range events {
		cur += e.delta
		best = max(best, cur)
	}
	return best
}
