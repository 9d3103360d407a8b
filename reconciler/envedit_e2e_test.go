package reconciler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest/loader"
)

// stampDeployments adds DIGIT's deployment-timestamp to the pod template
// of the common chart of a copy of examples/digit, as the real common
// chart has it (DIGIT-DevOps deploy-as-code/charts/common/templates/
// _deployment.yaml): every render stamps the time of the render.
func stampDeployments(t *testing.T, repo string) {
	t.Helper()
	stampTemplate(t, filepath.Join(repo, "deploy-as-code/helm/charts/common/templates/_deployment.yaml"))
}

// stampTemplate adds DIGIT's deployment-timestamp to the pod template of a
// Deployment template file.
func stampTemplate(t *testing.T, tpl string) {
	t.Helper()
	deployment, err := os.ReadFile(tpl)
	if err != nil {
		t.Fatal(err)
	}
	const podMeta = "  template:\n    metadata:\n"
	if !strings.Contains(string(deployment), podMeta) {
		t.Fatalf("%s has no pod template metadata to stamp", tpl)
	}
	stamped := strings.Replace(string(deployment), podMeta, podMeta+"      annotations:\n        deployment-timestamp: \"{{ date \"20060102150405\" .Release.Time }}\"\n", 1)
	if err := os.WriteFile(tpl, []byte(stamped), 0o644); err != nil {
		t.Fatal(err)
	}
}

// editFile replaces old by new, once, in a file of repo.
func editFile(t *testing.T, repo, file, old, new string) {
	t.Helper()
	p := filepath.Join(repo, file)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", file, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// podTemplates are the live pod templates of every Deployment and
// StatefulSet, as JSON, by Kind/namespace/name.
func podTemplates(t *testing.T, ctx context.Context, cluster *kube.Cluster) map[string]string {
	t.Helper()
	out := map[string]string{}
	deps, err := cluster.Clientset.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deps.Items {
		b, _ := json.Marshal(d.Spec.Template)
		out["Deployment/"+d.Namespace+"/"+d.Name] = string(b)
	}
	sts, err := cluster.Clientset.AppsV1().StatefulSets("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sts.Items {
		b, _ := json.Marshal(s.Spec.Template)
		out["StatefulSet/"+s.Namespace+"/"+s.Name] = string(b)
	}
	return out
}

// editRun syncs one environment of a repository on the control plane, and
// edits its files between syncs.
type editRun struct {
	t       *testing.T
	ctx     context.Context
	cluster *kube.Cluster
	repo    string
	env     string
	syncer  *reconciler.Syncer
}

func newEditRun(t *testing.T, ctx context.Context, cluster *kube.Cluster, repo, env string) *editRun {
	t.Helper()
	planner, err := reconciler.NewPlanner(cluster, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(planner.Drift.Close)
	return &editRun{t: t, ctx: ctx, cluster: cluster, repo: repo, env: env, syncer: &reconciler.Syncer{Planner: planner, Cluster: cluster}}
}

// sync loads, plans and applies the environment; a failed release fails
// the test.
func (r *editRun) sync(what string) reconciler.Synced {
	r.t.Helper()
	env, err := loader.Environment(r.ctx, loader.Options{RepoDir: r.repo}, r.env)
	if err != nil {
		r.t.Fatal(err)
	}
	synced, err := r.syncer.Sync(r.ctx, env, reconciler.SyncOptions{Apply: true})
	if err != nil {
		r.t.Fatalf("%s: %v", what, err)
	}
	if synced.Result != nil {
		for _, res := range synced.Result.Releases {
			if res.Outcome == reconciler.OutcomeFailed {
				r.t.Fatalf("%s: %s failed: %s", what, res.Name, res.Error)
			}
		}
	}
	return synced
}

// edit changes a file of the repository, waits for the next second (a
// render then stamps another time) and syncs; it returns the sync, the
// releases that got a new revision and the workloads whose pod template
// changed.
func (r *editRun) edit(what, file, old, new string) (reconciler.Synced, []string, []string) {
	r.t.Helper()
	before := map[string]int{}
	for _, l := range r.sync("before " + what).Live {
		before[l.Name] = l.Version
	}
	templates := podTemplates(r.t, r.ctx, r.cluster)
	editFile(r.t, r.repo, file, old, new)
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	synced := r.sync(what)
	var revised, restarted []string
	for _, l := range synced.Live {
		if l.Version != before[l.Name] {
			revised = append(revised, l.Name)
		}
	}
	for name, tpl := range podTemplates(r.t, r.ctx, r.cluster) {
		if tpl != templates[name] {
			restarted = append(restarted, name)
		}
	}
	slices.Sort(revised)
	slices.Sort(restarted)
	return synced, revised, restarted
}

// TestSync_environmentEditChangesOnlyWhatItChanges: examples/digit (seven
// releases that all get the whole environment file as values), with the
// DIGIT common chart's deployment-timestamp, deployed by digitops; then
// one key of the environment file at a time:
//
//   - one service's replicas: that release alone is upgraded (one new
//     revision), with its pod template kept; the six others are recorded
//     without a revision; no pod template changes; the next sync is clean
//     and writes nothing;
//   - the timezone of cluster-configs' egov-config: cluster-configs is
//     upgraded and grievance, which reads that key, restarts (its stamp
//     moves, the plan says why), and no other workload changes;
//   - a key no template reads: every release recorded, none upgraded;
//   - a global key every service renders (the registry): every service
//     is upgraded.
func TestSync_environmentEditChangesOnlyWhatItChanges(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, cluster := startCluster(t, false)
	repo := t.TempDir()
	copyTree(t, "../examples/digit", repo)
	stampDeployments(t, repo)
	editFile(t, repo, "digitops.yaml", "    sync: {interval: 1m, prune: true, drift: correct}\n", "    sync: {interval: 1m, prune: true, drift: correct, wait: false}\n")
	const envFile = "deploy-as-code/helm/environments/demo.yaml"

	run := newEditRun(t, ctx, cluster, repo, "demo")
	sync := run.sync
	first := sync("install")
	if n := first.Plan.Summary().Install; n != 7 {
		t.Fatalf("installed %d releases, want examples/digit's 7", n)
	}
	actions := func(synced reconciler.Synced) map[string]reconciler.Action {
		out := map[string]reconciler.Action{}
		for _, st := range synced.Plan.Steps {
			out[st.Release.Name] = st.Action
		}
		return out
	}
	edit := func(what, old, new string) (reconciler.Synced, []string, []string) {
		t.Helper()
		return run.edit(what, envFile, old, new)
	}

	t.Run("one service's key", func(t *testing.T) {
		synced, revised, restarted := edit("replicas", "accounts-replica:\n  replicas: 2\n", "accounts-replica:\n  replicas: 3\n")
		s := synced.Plan.Summary()
		if s.Upgrade != 1 || s.Record != 6 {
			t.Errorf("plan: %d to upgrade, %d recorded, want 1 and 6: %v", s.Upgrade, s.Record, actions(synced))
		}
		if !slices.Equal(revised, []string{"accounts-replica"}) {
			t.Errorf("new revisions of %v, want accounts-replica's alone", revised)
		}
		if len(restarted) != 0 {
			t.Errorf("pod templates changed: %v, want none (a replica count restarts nothing)", restarted)
		}
		for _, st := range synced.Plan.Steps {
			if st.Action != reconciler.ActionUpgrade {
				continue
			}
			want := []reconciler.Input{{File: envFile, Key: "accounts-replica.replicas", Old: "2", New: "3"}}
			if !slices.Equal(st.Inputs, want) {
				t.Errorf("%s's inputs: %v, want %v", st.Release.Name, st.Inputs, want)
			}
		}
		if len(synced.Plan.InputsWithNoEffect) != 0 {
			t.Errorf("inputs with no effect: %v, want none", synced.Plan.InputsWithNoEffect)
		}
		dep, err := cluster.Clientset.AppsV1().Deployments("egov").Get(ctx, "accounts-replica", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *dep.Spec.Replicas != 3 {
			t.Errorf("accounts-replica runs %d replicas, want 3", *dep.Spec.Replicas)
		}
		// The next sync finds everything in sync and writes nothing.
		before := cluster.Requests()
		again := sync("again")
		if w := again.Plan.Summary().Writes(); w != 0 {
			t.Errorf("the next plan writes %d releases: %v", w, actions(again))
		}
		if w := cluster.Requests().Since(before).Writes(); w != 0 {
			t.Errorf("the next sync made %d writes, want 0", w)
		}
	})

	t.Run("a ConfigMap key some services read", func(t *testing.T) {
		synced, revised, restarted := edit("timezone", "timezone: Asia/Kolkata", "timezone: Africa/Lagos")
		if !slices.Equal(revised, []string{"cluster-configs", "grievance"}) {
			t.Errorf("new revisions of %v, want cluster-configs and grievance (it reads timezone): %v", revised, actions(synced))
		}
		if !slices.Equal(restarted, []string{"Deployment/grievance/grievance"}) {
			t.Errorf("pod templates changed: %v, want grievance's alone", restarted)
		}
		var why []string
		for _, st := range synced.Plan.Steps {
			for _, r := range st.Restarts {
				why = append(why, r.String())
			}
		}
		want := "restarts Deployment/grievance/grievance: ConfigMap grievance/egov-config data.timezone changed"
		if !slices.Equal(why, []string{want}) {
			t.Errorf("the plan's restarts: %q, want %q", why, want)
		}
	})

	t.Run("a ConfigMap key no service reads", func(t *testing.T) {
		synced, revised, restarted := edit("db-name", `db-name: "demo"`, `db-name: "demo2"`)
		if !slices.Equal(revised, []string{"cluster-configs"}) || len(restarted) != 0 {
			t.Errorf("new revisions of %v, pod templates changed %v, want cluster-configs's revision alone and no restart: %v", revised, restarted, actions(synced))
		}
	})

	t.Run("a key no template reads", func(t *testing.T) {
		synced, revised, restarted := edit("unread key", "global:\n", "global:\n  unread-by-any-chart: x\n")
		if s := synced.Plan.Summary(); s.Upgrade != 0 || s.Record != 7 {
			t.Errorf("plan: %d to upgrade, %d recorded, want 0 and 7: %v", s.Upgrade, s.Record, actions(synced))
		}
		if len(revised) != 0 || len(restarted) != 0 {
			t.Errorf("new revisions of %v, pod templates changed %v, want none", revised, restarted)
		}
		want := []reconciler.Input{{File: envFile, Key: "global.unread-by-any-chart", New: `"x"`}}
		if !slices.Equal(synced.Plan.InputsWithNoEffect, want) {
			t.Errorf("inputs with no effect: %v, want %v", synced.Plan.InputsWithNoEffect, want)
		}
	})

	t.Run("a global key every service renders", func(t *testing.T) {
		synced, revised, _ := edit("registry", "containerRegistry: example\n", "containerRegistry: mirror.example\n")
		var services []string
		if a := actions(synced)["portal"]; a != reconciler.ActionRecord {
			t.Errorf("portal: %s, want a record (its image names its own registry)", a)
		}
		for name, a := range actions(synced) {
			// cluster-configs and cache render no registry; the release
			// chart names portal's own (registry.example.org).
			if name != "cluster-configs" && name != "cache" && name != "portal" {
				services = append(services, name)
				if a != reconciler.ActionUpgrade {
					t.Errorf("%s: %s, want an upgrade (its image moved)", name, a)
				}
			}
		}
		for _, s := range services {
			if !slices.Contains(revised, s) {
				t.Errorf("%s got no new revision", s)
			}
		}
	})

	t.Run("a record of a revision written after the plan read it", func(t *testing.T) {
		// The plan reads each recorded revision's storage Secret (for
		// its inputs) and the record rewrites that read: a write in
		// between (another Helm client) fails that record alone, and
		// nothing of the other writer's is lost.
		editFile(t, repo, envFile, "global:\n", "global:\n  unread-by-any-chart-2: y\n")
		env, err := loader.Environment(ctx, loader.Options{RepoDir: repo}, "demo")
		if err != nil {
			t.Fatal(err)
		}
		live, err := kube.ReadLiveState(ctx, cluster)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := run.syncer.Planner.Plan(ctx, env, live, reconciler.PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if s := plan.Summary(); s.Record != 7 {
			t.Fatalf("plan: %+v, want 7 records", s)
		}
		var cache kube.LiveRelease
		for _, l := range live {
			if l.Name == "cache" {
				cache = l
			}
		}
		secrets := cluster.Clientset.CoreV1().Secrets(cache.Namespace)
		name := fmt.Sprintf("sh.helm.release.v1.cache.v%d", cache.Version)
		s, err := secrets.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.Labels["written-by"] = "another-client"
		written, err := secrets.Update(ctx, s, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		res := (&reconciler.Applier{Cluster: cluster}).Apply(ctx, env, plan)
		for _, r := range res.Releases {
			switch {
			case r.Name == "cache" && r.Outcome != reconciler.OutcomeFailed:
				t.Errorf("cache, written after the plan read it: %s, want failed", r.Outcome)
			case r.Name != "cache" && r.Outcome == reconciler.OutcomeFailed:
				t.Errorf("%s: failed: %s", r.Name, r.Error)
			}
		}
		after, err := secrets.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if after.Labels["written-by"] != "another-client" || after.ResourceVersion != written.ResourceVersion {
			t.Errorf("the other client's write was lost: labels %v, resourceVersion %s, want %s", after.Labels, after.ResourceVersion, written.ResourceVersion)
		}
		// The next sync decides again, and records it.
		if s := run.sync("after the refused record").Plan.Summary(); s.Record != 1 || s.Upgrade != 0 {
			t.Errorf("next plan: %+v, want cache's record alone", s)
		}
	})
}

// TestSync_helmfileEditChangesOnlyWhatItChanges: examples/helmfile (a
// values file every release reads, a ConfigMap per service that its pods
// read, and egov-config, which every service reads here as DIGIT's do),
// deployed by digitops:
//
//   - one service's env key: its own ConfigMap changes, so that service
//     alone is upgraded and restarts; the others are recorded;
//   - a key of a values file only egov-config reads: egov-config is
//     upgraded, and every service, unchanged in Git, restarts because it
//     reads egov-config (the plan says so), with one new revision each.
func TestSync_helmfileEditChangesOnlyWhatItChanges(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, cluster := startCluster(t, false)
	repo := t.TempDir()
	copyTree(t, "../examples/helmfile", repo)
	const charts = "deploy-as-code/charts/"
	stampTemplate(t, filepath.Join(repo, charts+"common/templates/_deployment.yaml"))
	editFile(t, repo, charts+"common/templates/_deployment.yaml", "          envFrom:\n", "          envFrom:\n            - configMapRef:\n                name: egov-config\n")
	editFile(t, repo, "digitops.yaml", "sync: {interval: 1m, prune: true, drift: correct}", "sync: {interval: 1m, prune: true, drift: correct, wait: false}")
	editFile(t, repo, charts+"platform/platform-helmfile.yaml", "      tier: platform\n    values:\n      - ../environments/env.yaml\n", "      tier: platform\n    values:\n      - ../environments/env.yaml\n      - ../environments/egov-config.yaml\n")
	if err := os.WriteFile(filepath.Join(repo, charts+"environments/egov-config.yaml"), []byte("egov-config:\n  data:\n    timezone: UTC\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	run := newEditRun(t, ctx, cluster, repo, "demo")
	sync, edit := run.sync, run.edit
	if n := sync("install").Plan.Summary().Install; n != 4 {
		t.Fatalf("installed %d releases, want egov-config and three services", n)
	}

	t.Run("one service's key", func(t *testing.T) {
		synced, revised, restarted := edit("OTP", charts+"environments/env.yaml", `OTP_VALIDATION: "true"`, `OTP_VALIDATION: "false"`)
		if s := synced.Plan.Summary(); s.Upgrade != 1 || s.Record != 3 {
			t.Errorf("plan: %d to upgrade, %d recorded, want 1 and 3", s.Upgrade, s.Record)
		}
		if !slices.Equal(revised, []string{"egov-user"}) || !slices.Equal(restarted, []string{"Deployment/egov/egov-user"}) {
			t.Errorf("new revisions of %v, pod templates changed %v, want egov-user's alone", revised, restarted)
		}
		var why []string
		for _, st := range synced.Plan.Steps {
			for _, r := range st.Restarts {
				why = append(why, r.String())
			}
		}
		if want := "restarts Deployment/egov/egov-user: ConfigMap egov/egov-user data.OTP_VALIDATION changed"; !slices.Equal(why, []string{want}) {
			t.Errorf("restarts %q, want %q", why, want)
		}
	})

	t.Run("a ConfigMap every service reads, from a file only its release reads", func(t *testing.T) {
		synced, revised, restarted := edit("timezone", charts+"environments/egov-config.yaml", "timezone: UTC", "timezone: Africa/Lagos")
		services := []string{"egov-mdms", "egov-user", "pgr-services"}
		if want := append([]string{"egov-config"}, services...); !slices.Equal(revised, want) {
			t.Errorf("new revisions of %v, want %v", revised, want)
		}
		var want []string
		for _, s := range services {
			want = append(want, "Deployment/egov/"+s)
		}
		if !slices.Equal(restarted, want) {
			t.Errorf("pod templates changed %v, want %v", restarted, want)
		}
		for _, st := range synced.Plan.Steps {
			if !slices.Contains(services, st.Release.Name) {
				continue
			}
			if st.Status != reconciler.StatusConfigChanged || len(st.Restarts) != 1 || st.Restarts[0].Why != "ConfigMap egov/egov-config data.timezone changed" {
				t.Errorf("%s: %s %v, want config-changed restarting on egov-config data.timezone", st.Release.Name, st.Status, st.Restarts)
			}
		}
	})
}

// TestSync_corpusEnvironmentEdit: the real DIGIT-DevOps quickstart
// environment (unified-env branch, release chart quickstart v2.7,
// placeholder secrets), installed on the control plane (namespaces made
// first, no readiness wait, needs dropped so that every release whose
// chart Kubernetes 1.37 still serves is installed), then one key of the
// real environment file edited: zuul's replicas. Only zuul gets a new
// revision (and ingress-nginx, whose hooks make Helm render it again),
// the plan names the key and its file, and no pod template of the
// environment changes but the edited service's.
func TestSync_corpusEnvironmentEdit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	_, cluster := startCluster(t, false) // first: it skips under -short
	repo, envFile := reconciler.CorpusQuickstartRepoForTest(t, "    sync: {wait: false}\n")
	planner, err := reconciler.NewPlanner(cluster, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(planner.Drift.Close)
	syncer := &reconciler.Syncer{Planner: planner, Cluster: cluster}
	sync := func(what string) reconciler.Synced {
		t.Helper()
		env, err := loader.Environment(ctx, loader.Options{RepoDir: repo, Secrets: "placeholder"}, "quickstart")
		if err != nil {
			t.Fatal(err)
		}
		for i := range env.Releases {
			env.Releases[i].Needs = nil
			ns := env.Releases[i].Namespace
			if _, err := cluster.Clientset.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
				nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
				if _, err := cluster.Clientset.CoreV1().Namespaces().Create(ctx, nsObj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
					t.Fatal(err)
				}
			}
		}
		synced, err := syncer.Sync(ctx, env, reconciler.SyncOptions{Apply: true})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return synced
	}
	first := sync("install")
	deployed := map[string]int{}
	for _, l := range first.Live {
		if l.Status == "deployed" {
			deployed[l.Name] = l.Version
		}
	}
	t.Logf("installed %d of %d releases (the others render API versions Kubernetes 1.37 removed, or fail alike)", len(deployed), len(first.Plan.Steps))
	if _, ok := deployed["zuul"]; !ok || len(deployed) < 5 {
		t.Fatalf("installed %v: want zuul and at least 5 releases", keys(deployed))
	}
	sync("settle") // the failed installs are tried again; nothing else
	before := map[string]int{}
	for _, l := range sync("before the edit").Live {
		before[l.Name] = l.Version
	}
	templates := podTemplates(t, ctx, cluster)
	editFile(t, repo, envFile, "zuul:\n  replicas: 1\n", "zuul:\n  replicas: 2\n")
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	start := time.Now()
	edited := sync("zuul.replicas 1 → 2")
	wall := time.Since(start)
	var revised []string
	for _, l := range edited.Live {
		if _, ok := deployed[l.Name]; ok && l.Version != before[l.Name] {
			revised = append(revised, l.Name)
		}
	}
	// ingress-nginx's admission webhook jobs are Helm hooks: Helm renders
	// such a chart again when it acts, so it is upgraded as before (its
	// objects do not change).
	slices.Sort(revised)
	if !slices.Equal(revised, []string{"ingress-nginx", "zuul"}) {
		t.Errorf("new revisions of %v, want zuul's and ingress-nginx's (hooks) alone", revised)
	}
	var changed []string
	for name, tpl := range podTemplates(t, ctx, cluster) {
		if old, ok := templates[name]; ok && tpl != old {
			changed = append(changed, name)
		}
	}
	// zuul's own pod template may change: its chart renders env entries
	// of the same name twice, and the strategic merge patch of any
	// upgrade of it reorders them (Kubernetes warns "hides previous
	// definition"). No other workload's may.
	for _, name := range changed {
		if name != "Deployment/egov/zuul" {
			t.Errorf("the pod template of %s changed, want none but the edited service's", name)
		}
	}
	s := edited.Plan.Summary()
	t.Logf("zuul.replicas 1 → 2: %d upgraded, %d recorded, %d new revisions among the %d installed, %d pod templates changed, sync %s", s.Upgrade, s.Record, len(revised), len(deployed), len(changed), wall.Round(time.Millisecond))
	for _, st := range edited.Plan.Steps {
		if st.Release.Name != "zuul" {
			continue
		}
		want := reconciler.Input{File: envFile, Key: "zuul.replicas", Old: "1", New: "2"}
		if st.Action != reconciler.ActionUpgrade || !slices.Contains(st.Inputs, want) {
			t.Errorf("zuul: %s %v, want an upgrade naming %v", st.Action, st.Inputs, want)
		}
	}
}
