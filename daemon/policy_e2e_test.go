package daemon_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/digitops/digitops/daemon"
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/internal/testenv"
	"github.com/digitops/digitops/policy"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// The daemon holds every environment to the operator's policy: one the
// policy has no entry for is never connected nor planned, and a release
// outside its entry is an error step, applied by nobody.
func TestDaemon_policy(t *testing.T) {
	tenv := testenv.ForTest(t, testenv.Options{})
	good := quickstartRepo(t)
	cfg := good.read("digitops.yaml")
	good.commit("a second environment", map[string]string{
		"digitops.yaml": cfg + "  - name: qa\n    layout: native\n    releases: [{name: x, namespace: egov, chart: charts/services/egov-user}]\n",
	})
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte("environments:\n  dev:\n    namespaces: [digit-*]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Read(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	var connects atomic.Int32
	r := startDaemon(t, daemon.Options{
		Sources: []daemon.SourceOptions{{URL: good.dir}},
		Policy:  pol,
		Cluster: func(_ context.Context, _ manifest.ClusterRef) (*kube.Cluster, error) {
			connects.Add(1)
			return kube.NewCluster(tenv.Config)
		},
		Interval: time.Hour,
	})
	waitFor(t, 2*time.Minute, "qa failing", func() bool { return r.env(t, "qa").Phase == statusapi.PhaseFailing })
	if e := r.env(t, "qa"); !strings.Contains(e.LastError, `environment "qa" is not allowed: policy `+path+` has no entry for it`) {
		t.Errorf("qa lastError = %q, want the policy's refusal", e.LastError)
	}
	waitFor(t, 2*time.Minute, "dev planned", func() bool { return len(r.env(t, "dev").Releases) > 0 })
	dev := r.env(t, "dev")
	for _, rel := range dev.Releases {
		if rel.Action != "error" || !strings.Contains(rel.Reason, `Namespace "egov" is not allowed: policy `+path+`, environments["dev"].namespaces allows digit-*`) {
			t.Errorf("dev release %s: %s: %s, want the policy's refusal", rel.Name, rel.Action, rel.Reason)
		}
	}
	if n := connects.Load(); n != 1 {
		t.Errorf("%d connections, want 1 (dev's; qa is refused first)", n)
	}
	cluster, err := kube.NewCluster(tenv.Config)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := cluster.Clientset.CoreV1().Secrets("").List(context.Background(), metav1.ListOptions{LabelSelector: "owner=helm"})
	if err != nil {
		t.Fatal(err)
	}
	if len(secrets.Items) != 0 {
		t.Errorf("%d Helm releases, want none: the policy refuses every release", len(secrets.Items))
	}
}
