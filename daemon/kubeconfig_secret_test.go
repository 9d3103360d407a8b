package daemon_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/digitops/digitops/daemon"
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/internal/testenv"
)

// TestDaemon_kubeconfigSecret: an environment whose cluster block names a
// kubeconfig Secret is synced to the cluster that kubeconfig points at (here
// the same control plane, read from a Secret in it, as a daemon running in a
// management cluster reads its targets' kubeconfigs). A Secret that does not
// exist fails that environment's sync with an error naming the Secret; a
// Secret whose content is not a kubeconfig fails without quoting it.
func TestDaemon_kubeconfigSecret(t *testing.T) {
	tenv := testenv.ForTest(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cs := kubernetes.NewForConfigOrDie(tenv.Config)
	kubeconfig, err := os.ReadFile(tenv.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "digitops-system"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const notAKubeconfig = "not-a-kubeconfig-but-a-secret-value"
	for name, data := range map[string][]byte{"dev-kubeconfig": kubeconfig, "garbled": []byte(notAKubeconfig)} {
		sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "digitops-system"}, Data: map[string][]byte{"value": data}}
		if _, err := cs.CoreV1().Secrets("digitops-system").Create(ctx, sec, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	repo := quickstartRepo(t)
	cfg := repo.read("digitops.yaml")
	base := strings.Replace(cfg, "    layout: native\n", "    layout: native\n    cluster: {kubeconfigSecret: {namespace: digitops-system, name: dev-kubeconfig}}\n", 1)
	if base == cfg {
		t.Fatal("fixture changed: no layout line in the quickstart configuration")
	}
	// Two more environments of the same releases, pointing at Secrets that
	// are missing or not a kubeconfig.
	envs := base
	for _, bad := range []string{"missing", "garbled"} {
		e := base[strings.Index(base, "  - name: dev\n"):]
		e = strings.Replace(e, "  - name: dev\n", "  - name: "+bad+"\n", 1)
		e = strings.Replace(e, "name: dev-kubeconfig", "name: "+bad, 1)
		envs += e
	}
	repo.commit("kubeconfig secrets", map[string]string{"digitops.yaml": envs})

	r := startDaemon(t, daemon.Options{
		Sources:  []daemon.SourceOptions{{URL: repo.dir}},
		Home:     tenv.Config,
		Interval: time.Hour,
	})
	waitFor(t, 2*time.Minute, "dev in sync", func() bool { return r.env(t, "dev").Phase == statusapi.PhaseInSync })
	if n := len(r.env(t, "dev").Releases); n != 4 {
		t.Errorf("dev has %d releases, want 4", n)
	}
	if _, err := cs.AppsV1().Deployments("egov").Get(ctx, "egov-user", metav1.GetOptions{}); err != nil {
		t.Errorf("egov-user not deployed through the kubeconfig Secret: %v", err)
	}

	waitFor(t, time.Minute, "missing and garbled failing", func() bool {
		return r.env(t, "missing").Phase == statusapi.PhaseFailing && r.env(t, "garbled").Phase == statusapi.PhaseFailing
	})
	if e := r.env(t, "missing").LastError; !strings.Contains(e, "digitops-system/missing") {
		t.Errorf("missing Secret: error %q does not name it", e)
	}
	e := r.env(t, "garbled").LastError
	if !strings.Contains(e, "digitops-system/garbled") || !strings.Contains(e, "not a valid kubeconfig") {
		t.Errorf("garbled Secret: error %q does not say what is wrong where", e)
	}
	_, body := r.get(t, "/api/v1/status")
	_, metrics := r.get(t, "/metrics")
	for what, text := range map[string]string{"error": e, "status": body, "metrics": metrics} {
		if strings.Contains(text, notAKubeconfig) {
			t.Errorf("the Secret's content appears in the %s", what)
		}
	}
}
