package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// HomeConfig is the REST config of the cluster the daemon runs in: the
// in-cluster config when running in a pod without an explicit kubeconfig or
// context, else the kubeconfig (default loading rules when empty) at
// context. The Lease and cluster.kubeconfigSecret Secrets live there.
func HomeConfig(kubeconfig, context string) (*rest.Config, error) {
	if kubeconfig == "" && context == "" && os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("unable to load the in-cluster config: %w", err)
		}
		return cfg, nil
	}
	return kube.LoadKubeconfig(kube.ClusterOptions{Kubeconfig: kubeconfig, Context: context})
}

// defaultKubeconfigKeys are the Secret keys tried, in order, when a
// kubeconfigSecret names no key (Flux's and Cluster API's conventions).
var defaultKubeconfigKeys = []string{"value", "value.yaml", "kubeconfig"}

// kubeconfigFromSecret reads the kubeconfig a cluster.kubeconfigSecret
// names from the home cluster and returns its REST config and a digest of
// its bytes (so that a rotated kubeconfig gets a new connection). Its
// content never appears in an error.
func (d *Daemon) kubeconfigFromSecret(ctx context.Context, ref manifest.SecretKeyRef) (*rest.Config, string, error) {
	home, err := d.homeClient()
	if err != nil {
		return nil, "", err
	}
	ns := ref.Namespace
	if ns == "" {
		ns = os.Getenv("POD_NAMESPACE")
	}
	if ns == "" {
		return nil, "", fmt.Errorf("cluster.kubeconfigSecret %q names no namespace (and POD_NAMESPACE is not set)", ref.Name)
	}
	where := ns + "/" + ref.Name
	sec, err := home.CoreV1().Secrets(ns).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return nil, "", fmt.Errorf("unable to read the kubeconfig Secret %s: %w", where, err)
	}
	keys := defaultKubeconfigKeys
	if ref.Key != "" {
		keys = []string{ref.Key}
	}
	var data []byte
	for _, k := range keys {
		if v, ok := sec.Data[k]; ok {
			data = v
			break
		}
	}
	if data == nil {
		return nil, "", fmt.Errorf("kubeconfig Secret %s has none of the keys %v", where, keys)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(data)
	if err != nil {
		// clientcmd's errors quote no content, but keep it that way.
		return nil, "", fmt.Errorf("kubeconfig in Secret %s is not a valid kubeconfig", where)
	}
	sum := sha256.Sum256(data)
	return cfg, hex.EncodeToString(sum[:8]), nil
}

// homeClient returns a client of the home cluster, built once.
func (d *Daemon) homeClient() (kubernetes.Interface, error) {
	d.homeOnce.Do(func() {
		cfg := d.opts.Home
		if cfg == nil {
			cfg, d.homeErr = HomeConfig(d.opts.KubeconfigOverride, d.opts.ContextOverride)
			if d.homeErr != nil {
				return
			}
		}
		d.home, d.homeErr = kubernetes.NewForConfig(cfg)
	})
	return d.home, d.homeErr
}
