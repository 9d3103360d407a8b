package daemon_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/digitops/digitops/daemon"
	"github.com/digitops/digitops/daemon/history"
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/internal/testenv"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// history gets an environment's history from the API (?release= when
// release is set).
func (r *running) history(t *testing.T, env, release string) history.Document {
	t.Helper()
	path := "/api/v1/environments/" + env + "/history"
	if release != "" {
		path += "?release=" + release
	}
	code, body := r.get(t, path)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	var doc history.Document
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
	return doc
}

// triggers lists the entries' triggers, as "start,webhook".
func triggers(entries []history.Entry) string {
	var s []string
	for _, e := range entries {
		s = append(s, string(e.Trigger))
	}
	return strings.Join(s, ",")
}

// TestDaemon_historySurvivesARestart: the first sync (at start), a commit
// a webhook announced and a watch-driven drift correction make three
// history entries, newest first, each with its trigger, revision, counts
// and releases; they are in a ConfigMap of the home cluster, and a new
// daemon on that cluster, with nothing cached, answers with them and adds
// its own first sync.
func TestDaemon_historySurvivesARestart(t *testing.T) {
	tenv := testenv.ForTest(t, testenv.Options{})
	ctx := context.Background()
	admin := kubernetes.NewForConfigOrDie(tenv.Config)
	g := quickstartRepo(t)
	first := g.commit("drift correct", map[string]string{"digitops.yaml": withSync(t, g, "drift: correct")})
	opts := daemon.Options{
		Sources: []daemon.SourceOptions{{URL: g.dir}},
		Cluster: func(context.Context, manifest.ClusterRef) (*kube.Cluster, error) {
			return kube.NewCluster(tenv.Config)
		},
		Home:          tenv.Config,
		Interval:      time.Hour, // syncs come from the start, the webhook and the watch
		DriftInterval: time.Hour,
		DriftDebounce: 200 * time.Millisecond,
		Debounce:      100 * time.Millisecond,
		Webhooks:      daemon.WebhookSecrets{GitHub: webhookSecret},
	}
	r := startDaemon(t, opts)
	waitFor(t, 2*time.Minute, "dev in sync", func() bool { return r.env(t, "dev").Phase == statusapi.PhaseInSync })

	// A second commit, announced by a push.
	values := strings.Replace(g.read("environments/dev.yaml"), "env:\n", "env:\n  NOTE: \"changed\"\n", 1)
	second := g.commit("change values", map[string]string{"environments/dev.yaml": values})
	if code := githubPush(t, r, g.dir, webhookSecret); code != http.StatusAccepted {
		t.Fatalf("push: %d", code)
	}
	waitFor(t, 30*time.Second, "the second commit in sync", func() bool {
		e := r.env(t, "dev")
		return strings.Contains(e.Revision, second) && e.Phase == statusapi.PhaseInSync
	})

	// An edit corrected from the watch.
	if _, err := admin.CoreV1().ConfigMaps("egov").Patch(ctx, "egov-config", types.MergePatchType, []byte(`{"data":{"timezone":"edited"}}`), metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the correction in the history", func() bool {
		return triggers(r.history(t, "dev", "").Entries) == "watch,webhook,start"
	})

	doc := r.history(t, "dev", "")
	if doc.Environment != "dev" || doc.Error != "" {
		t.Errorf("history of %q, error %q", doc.Environment, doc.Error)
	}
	watch, push, start := doc.Entries[0], doc.Entries[1], doc.Entries[2]
	for _, e := range doc.Entries {
		if e.Result != history.ResultSuccess || e.Duration == "" || e.Summary == nil || e.Error != "" {
			t.Errorf("%s entry: result %s, duration %q, summary %v, error %q; want a success with its counts", e.Trigger, e.Result, e.Duration, e.Summary, e.Error)
		}
	}
	if !strings.Contains(start.Revision, first) || start.Commit != first || start.Summary.Install != 4 || len(start.Releases) != 4 {
		t.Errorf("start entry: revision %s, summary %+v, releases %+v; want 4 installs at %s", start.Revision, start.Summary, start.Releases, first[:7])
	}
	for _, rel := range start.Releases {
		if rel.Action != "install" || rel.Outcome != "succeeded" || rel.Revision != 1 || rel.Namespace != "egov" {
			t.Errorf("start entry release %+v, want installed at revision 1", rel)
		}
	}
	if !strings.Contains(push.Revision, second) || push.Summary.Upgrade != 3 || len(push.Releases) != 3 || push.Acted("egov-config") {
		t.Errorf("webhook entry: revision %s, summary %+v, releases %+v; want 3 upgrades at %s, egov-config left alone", push.Revision, push.Summary, push.Releases, second[:7])
	}
	if !strings.Contains(watch.Revision, second) || len(watch.Releases) != 1 || watch.Releases[0].Name != "egov-config" || watch.Releases[0].Action != "correct-drift" || watch.Releases[0].Outcome != "succeeded" {
		t.Errorf("watch entry: revision %s, releases %+v; want egov-config's correction", watch.Revision, watch.Releases)
	}
	if !start.Started.Before(push.Started) || !push.Started.Before(watch.Started) {
		t.Errorf("entries not newest first: %s, %s, %s", watch.Started, push.Started, start.Started)
	}
	// One release: the syncs that acted on it, with it alone.
	if got := r.history(t, "dev", "egov-config").Entries; triggers(got) != "watch,start" || len(got[0].Releases) != 1 || len(got[1].Releases) != 1 {
		t.Errorf("egov-config's history: %s %+v, want its correction and its install alone", triggers(got), got)
	}
	if code, _ := r.get(t, "/api/v1/environments/nope/history"); code != http.StatusNotFound {
		t.Errorf("history of an unknown environment: %d, want 404", code)
	}

	// In the home cluster: one ConfigMap, labelled, holding the three.
	cm, err := admin.CoreV1().ConfigMaps("default").Get(ctx, history.ConfigMapName("dev"), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the history is not in the home cluster: %v", err)
	}
	var stored []history.Entry
	if err := json.Unmarshal([]byte(cm.Data[history.DataKey]), &stored); err != nil || triggers(stored) != "start,webhook,watch" {
		t.Errorf("stored %s (err %v), want start,webhook,watch (oldest first)", triggers(stored), err)
	}
	if cm.Labels[history.ComponentLabel] != "sync-history" || cm.Annotations[history.EnvironmentAnnotation] != "dev" {
		t.Errorf("ConfigMap metadata: labels %v, annotations %v", cm.Labels, cm.Annotations)
	}
	r.stop()

	// A new daemon (a new pod: nothing cached) on the same home cluster.
	opts.CacheDir = t.TempDir()
	r = startDaemon(t, opts)
	waitFor(t, 2*time.Minute, "the new daemon's first sync in its history", func() bool {
		code, _ := r.get(t, "/api/v1/environments/dev/history")
		return code == http.StatusOK && triggers(r.history(t, "dev", "").Entries) == "start,watch,webhook,start"
	})
	after := r.history(t, "dev", "").Entries
	for i, e := range after[1:] {
		if !e.Started.Equal(doc.Entries[i].Started) || e.Revision != doc.Entries[i].Revision || len(e.Releases) != len(doc.Entries[i].Releases) {
			t.Errorf("entry %d after the restart: %+v, want %+v", i+1, e, doc.Entries[i])
		}
	}
	if now := after[0]; now.Result != history.ResultSuccess || len(now.Releases) != 0 || now.Summary == nil || now.Summary.Unchanged != 4 {
		t.Errorf("the new daemon's first sync: %+v, want a success with 4 releases unchanged, none acted on", now)
	}
}
