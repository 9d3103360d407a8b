package daemon_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/digitops/digitops/daemon"
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/internal/testenv"
)

// fakeEndpoint stands in for GitHub's API and a webhook receiver: it
// records what it is sent.
type fakeEndpoint struct {
	mu   sync.Mutex
	reqs []string // "path body"
	auth []string
}

func (f *fakeEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, r.URL.Path+" "+string(b))
	f.auth = append(f.auth, r.Header.Get("Authorization")+r.Header.Get("X-Signature-256"))
	f.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

func (f *fakeEndpoint) find(substrings ...string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.reqs {
		all := true
		for _, s := range substrings {
			all = all && strings.Contains(r, s)
		}
		if all {
			return true
		}
	}
	return false
}

// TestDaemon_notifications: a sync sets the commit status digitops/dev to
// pending, then success, on the synced commit (GitHub API, token from the
// secrets directory), a signed webhook hears sync-succeeded and, after a
// hand edit, drift-corrected naming the field and the manager; the secrets
// appear in no metric and no status.
func TestDaemon_notifications(t *testing.T) {
	tenv := testenv.ForTest(t, testenv.Options{})
	gh, hook := &fakeEndpoint{}, &fakeEndpoint{}
	ghs, hooks := httptest.NewServer(gh), httptest.NewServer(hook)
	defer ghs.Close()
	defer hooks.Close()
	secrets := t.TempDir()
	// The GitHub API base is the daemon's to choose, beside the token.
	for name, v := range map[string]string{"github-token": "ghp_notify_secret", "github-token.url": ghs.URL, "hook-key": "hook-hmac-secret"} {
		if err := os.WriteFile(filepath.Join(secrets, name), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	g := quickstartRepo(t)
	cfg := strings.Replace(g.read("digitops.yaml"), "    sync:\n", `    notify:
      - {provider: github, repository: egov/envs, secretRef: github-token}
      - {provider: webhook, url: "`+hooks.URL+`/digitops", secretRef: hook-key}
      - {provider: slack, secretRef: missing-slack-url}
    sync:
`, 1)
	if !strings.Contains(cfg, "provider: github") {
		t.Fatal("could not add notify to the configuration")
	}
	commit := g.commit("notify", map[string]string{"digitops.yaml": cfg})
	r := startDaemon(t, daemon.Options{
		Sources:          []daemon.SourceOptions{{URL: g.dir}},
		Cluster:          clusterOf(tenv),
		Interval:         time.Hour,
		DriftInterval:    time.Hour,
		DriftDebounce:    200 * time.Millisecond,
		NotifySecretsDir: secrets,
		StatusURL:        "https://digitops.example.org/",
		APIToken:         apiToken,
	})
	waitFor(t, 2*time.Minute, "dev in sync", func() bool { return r.env(t, "dev").Phase == statusapi.PhaseInSync })
	status := "/repos/egov/envs/statuses/" + commit
	waitFor(t, 20*time.Second, "commit statuses pending and success", func() bool {
		return gh.find(status, `"state":"pending"`, `"context":"digitops/dev"`) &&
			gh.find(status, `"state":"success"`, `"context":"digitops/dev"`, `"target_url":"https://digitops.example.org/"`)
	})
	waitFor(t, 20*time.Second, "sync-succeeded on the webhook", func() bool {
		return hook.find("/digitops", `"kind":"sync-succeeded"`, `"environment":"dev"`)
	})
	gh.mu.Lock()
	if gh.auth[0] != "Bearer ghp_notify_secret" {
		t.Errorf("GitHub was sent %q", gh.auth[0])
	}
	gh.mu.Unlock()
	hook.mu.Lock()
	if !strings.HasPrefix(hook.auth[0], "sha256=") {
		t.Errorf("the webhook is not signed: %q", hook.auth[0])
	}
	hook.mu.Unlock()

	cs := kubernetes.NewForConfigOrDie(tenv.Config)
	if _, err := cs.CoreV1().ConfigMaps("egov").Patch(context.Background(), "egov-config", types.MergePatchType, []byte(`{"data":{"timezone":"edited"}}`), metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "drift-corrected on the webhook", func() bool {
		return hook.find(`"kind":"drift-corrected"`, `"releases":["egov-config"]`, `ConfigMap/egov/egov-config /data/timezone`, `kubectl-edit`)
	})

	_, metrics := r.get(t, "/metrics")
	for _, want := range []string{`digitops_notifications_total{provider="github",result="sent"} 2`, `digitops_notifications_total{provider="webhook",result="sent"} 2`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// A commit that stops the environment at load is told too: with the
	// notify entries of the last load, and a failure status on the commit.
	broken := g.commit("broken values", map[string]string{"environments/dev.yaml": "replicas: [1\n"})
	if code := r.post(t, "/api/v1/environments/dev/retry", apiToken); code != http.StatusOK {
		t.Fatalf("retry: %d", code)
	}
	waitFor(t, 30*time.Second, "sync-failed of the broken commit", func() bool {
		return hook.find("/digitops", `"kind":"sync-failed"`, broken, "environments/dev.yaml") &&
			gh.find("/repos/egov/envs/statuses/"+broken, `"state":"failure"`)
	})

	body, _ := json.Marshal(r.status(t))
	for _, secret := range []string{"ghp_notify_secret", "hook-hmac-secret"} {
		if strings.Contains(metrics, secret) || strings.Contains(string(body), secret) {
			t.Errorf("the secret %s shows", secret)
		}
	}
}
