package daemon_test

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/digitops/digitops/daemon"
	"github.com/digitops/digitops/daemon/history"
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/internal/testenv"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// TestChart_daemonRunsAsItsServiceAccount installs deploy/helm/digitops with
// the Helm SDK, then runs the daemon with nothing but the chart's
// ServiceAccount token (a TokenRequest): with the default RBAC and with the
// narrow rules the values file documents, it installs, upgrades, corrects
// drift, prunes and takes the Lease; the API token is the one the chart's
// Secret holds, and the webhook secret the one the chart mounts.
func TestChart_daemonRunsAsItsServiceAccount(t *testing.T) {
	for _, tc := range []struct {
		name string
		// values is a values file of the chart to install with; empty
		// keeps the defaults (full access).
		values string
	}{
		{name: "default rules"},
		{name: "narrow rules", values: "../deploy/helm/digitops/values-narrow-rbac.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) { chartRun(t, tc.values) })
	}
}

func chartRun(t *testing.T, valuesFile string) {
	tenv := testenv.ForTest(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	admin := kubernetes.NewForConfigOrDie(tenv.Config)
	const ns = "digitops-system"
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hooks := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "digitops-webhooks", Namespace: ns},
		StringData: map[string]string{"github": "chart-github-secret", "gitlab": "chart-gitlab-token", "generic": "chart-generic-secret"}}
	if _, err := admin.CoreV1().Secrets(ns).Create(ctx, hooks, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	values := map[string]any{}
	if valuesFile != "" {
		b, err := os.ReadFile(valuesFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, &values); err != nil {
			t.Fatal(err)
		}
	}
	values["webhookSecret"] = "digitops-webhooks"
	values["source"] = map[string]any{"repo": "https://example.org/envs.git"}
	installChart(t, ctx, tenv.Config, ns, values)

	// The daemon's identity: the chart's ServiceAccount, through a token.
	tok, err := admin.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "digitops", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sa := &rest.Config{Host: tenv.Config.Host, BearerToken: tok.Status.Token, TLSClientConfig: rest.TLSClientConfig{CAData: tenv.Config.CAData}}
	saClient := kubernetes.NewForConfigOrDie(sa)
	if _, err := saClient.CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("the ServiceAccount cannot list Secrets (Helm's storage): %v", err)
	}
	if _, err := saClient.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{}); valuesFile != "" && err == nil {
		t.Fatal("the narrow rules allow listing ClusterRoles: they are not narrow")
	}
	// The chart's API token and webhook secret, as the pod would mount them.
	apiSecret, err := admin.CoreV1().Secrets(ns).Get(ctx, "digitops-api-token", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the chart did not create its API token Secret: %v", err)
	}
	apiTok := string(apiSecret.Data["token"])
	if len(apiTok) < 32 {
		t.Fatalf("the chart's API token is %d characters", len(apiTok))
	}

	g := quickstartRepo(t)
	g.commit("prune", map[string]string{"digitops.yaml": withSync(t, g, "prune: true")})
	r := startDaemon(t, daemon.Options{
		Sources: []daemon.SourceOptions{{URL: g.dir}},
		Cluster: func(context.Context, manifest.ClusterRef) (*kube.Cluster, error) { return kube.NewCluster(sa) },
		Home:    sa,
		LeaderElection: &daemon.LeaderElection{Client: saClient, Namespace: ns, Name: "digitops", Identity: "chart-test",
			LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 200 * time.Millisecond},
		Interval:      time.Hour,
		DriftInterval: time.Hour,
		DriftDebounce: 200 * time.Millisecond,
		Debounce:      50 * time.Millisecond,
		APIToken:      apiTok,
		Webhooks:      daemon.WebhookSecrets{GitHub: string(hooksData(t, ctx, admin, ns)["github"])},
		Logger:        slog.New(slog.DiscardHandler),
	})
	waitFor(t, 2*time.Minute, "installed as the ServiceAccount", func() bool {
		return r.status(t).Leader && r.env(t, "dev").Phase == statusapi.PhaseInSync
	})
	lease, err := admin.CoordinationV1().Leases(ns).Get(ctx, "digitops", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != "chart-test" {
		t.Fatalf("the Lease: %v %+v", err, lease)
	}

	// Upgrade, from a commit announced by the webhook the chart's secret signs.
	cfg := strings.Replace(g.read("digitops.yaml"), "          - replicas: 2\n", "          - replicas: 3\n", 1)
	g.commit("3 replicas", map[string]string{"digitops.yaml": cfg})
	if code := githubPush(t, r, g.dir, "chart-github-secret"); code/100 != 2 {
		t.Fatalf("webhook with the chart's secret: %d", code)
	}
	waitFor(t, 30*time.Second, "the upgrade", func() bool {
		d, err := admin.AppsV1().Deployments("egov").Get(ctx, "egov-user", metav1.GetOptions{})
		return err == nil && *d.Spec.Replicas == 3
	})

	// Drift corrected from the watch, with the ServiceAccount's watches.
	if _, err := admin.CoreV1().ConfigMaps("egov").Patch(ctx, "egov-config", types.MergePatchType, []byte(`{"data":{"timezone":"edited"}}`), metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the drift corrected", func() bool {
		cm, err := admin.CoreV1().ConfigMaps("egov").Get(ctx, "egov-config", metav1.GetOptions{})
		return err == nil && cm.Data["timezone"] != "edited"
	})

	// Prune: pgr-services leaves Git.
	cfg = g.read("digitops.yaml")
	i := strings.Index(cfg, "      - name: pgr-services\n")
	if i < 0 {
		t.Fatal("pgr-services not found in the configuration")
	}
	g.commit("drop pgr-services", map[string]string{"digitops.yaml": cfg[:i]})
	githubPush(t, r, g.dir, "chart-github-secret")
	waitFor(t, 30*time.Second, "pgr-services pruned", func() bool {
		_, err := admin.AppsV1().Deployments("egov").Get(ctx, "pgr-services", metav1.GetOptions{})
		return err != nil
	})

	// The sync history, stored in the release namespace with the chart's
	// RBAC: the install, the upgrade, the correction and the prune.
	waitFor(t, 20*time.Second, "the history stored", func() bool {
		cm, err := admin.CoreV1().ConfigMaps(ns).Get(ctx, history.ConfigMapName("dev"), metav1.GetOptions{})
		return err == nil && strings.Count(cm.Data[history.DataKey], `"started"`) >= 4
	})
	if doc := r.history(t, "dev", ""); doc.Error != "" {
		t.Errorf("history error with the chart's RBAC: %s", doc.Error)
	}

	// The API: the chart's token is required for a mutation.
	if code := r.post(t, "/api/v1/environments/dev/suspend", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("suspend with a wrong token: %d, want 401", code)
	}
	if code := r.post(t, "/api/v1/environments/dev/suspend", apiTok); code != http.StatusOK {
		t.Errorf("suspend with the chart's token: %d, want 200", code)
	}
	if !r.env(t, "dev").Suspended {
		t.Error("the environment is not suspended after an authorised suspend")
	}
}

// installChart installs deploy/helm/digitops as release digitops.
func installChart(t *testing.T, ctx context.Context, cfg *rest.Config, ns string, values map[string]any) {
	t.Helper()
	ch, err := loader.Load("../deploy/helm/digitops")
	if err != nil {
		t.Fatal(err)
	}
	c, err := kube.NewCluster(cfg)
	if err != nil {
		t.Fatal(err)
	}
	inst := action.NewInstall(c.ActionConfig(ns, slog.New(slog.DiscardHandler)))
	inst.ReleaseName, inst.Namespace = "digitops", ns
	inst.Timeout = time.Minute
	if _, err := inst.RunWithContext(ctx, ch, values); err != nil {
		t.Fatalf("install the chart: %v", err)
	}
}

func hooksData(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns string) map[string][]byte {
	t.Helper()
	s, err := cs.CoreV1().Secrets(ns).Get(ctx, "digitops-webhooks", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s.Data
}

func ptr[T any](v T) *T { return &v }
