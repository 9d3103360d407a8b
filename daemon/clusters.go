package daemon

import (
	"context"
	"path/filepath"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// connected is a cluster client and the planner that plans against it
// (drift detection and live image tags read that cluster).
type connected struct {
	cluster *kube.Cluster
	planner *reconciler.Planner
}

// cluster returns the (shared) client and planner of the cluster ref names.
// A cluster.kubeconfigSecret is read from the home cluster on every call (one
// GET), so that a rotated kubeconfig is picked up; it wins over the
// --kubeconfig/--context overrides, which then name the home cluster.
// repositoryCluster is what of an environment's cluster block cluster
// connects with: the overrides are the operator's, and a kubeconfigSecret
// (read unless Options.Cluster connects) replaces the rest. The policy
// checks this part.
func (d *Daemon) repositoryCluster(ref manifest.ClusterRef) manifest.ClusterRef {
	if ref.KubeconfigSecret != nil && d.opts.Cluster == nil {
		return manifest.ClusterRef{KubeconfigSecret: ref.KubeconfigSecret}
	}
	out := manifest.ClusterRef{Kubeconfig: ref.Kubeconfig, Context: ref.Context}
	if d.opts.KubeconfigOverride != "" {
		out.Kubeconfig = ""
	}
	if d.opts.ContextOverride != "" {
		out.Context = ""
	}
	return out
}

func (d *Daemon) cluster(ctx context.Context, ref manifest.ClusterRef) (connected, error) {
	if ref.KubeconfigSecret != nil && d.opts.Cluster == nil {
		return d.clusterFromSecret(ctx, *ref.KubeconfigSecret)
	}
	if d.opts.KubeconfigOverride != "" {
		ref.Kubeconfig = d.opts.KubeconfigOverride
	}
	if d.opts.ContextOverride != "" {
		ref.Context = d.opts.ContextOverride
	}
	key := ref.Kubeconfig + "\x00" + ref.Context
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.clusters[key]; ok {
		return c, nil
	}
	var c *kube.Cluster
	var err error
	if d.opts.Cluster != nil {
		c, err = d.opts.Cluster(ctx, ref)
	} else {
		c, err = kube.NewClusterFromKubeconfig(kube.ClusterOptions{Kubeconfig: ref.Kubeconfig, Context: ref.Context})
	}
	if err != nil {
		return connected{}, err
	}
	return d.connect(key, c)
}

// clusterFromSecret connects to the cluster whose kubeconfig a Secret of
// the home cluster holds, reusing the connection while the kubeconfig is
// unchanged and closing the old one when it was rotated.
func (d *Daemon) clusterFromSecret(ctx context.Context, ref manifest.SecretKeyRef) (connected, error) {
	cfg, digest, err := d.kubeconfigFromSecret(ctx, ref)
	if err != nil {
		return connected{}, err
	}
	key := "secret\x00" + ref.Namespace + "/" + ref.Name + "/" + ref.Key + "\x00" + digest
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.clusters[key]; ok {
		return c, nil
	}
	if old, ok := d.secretKeys[ref]; ok {
		if c, ok := d.clusters[old]; ok && c.planner.Drift != nil {
			c.planner.Drift.Close()
		}
		delete(d.clusters, old)
	}
	c, err := kube.NewCluster(cfg)
	if err != nil {
		return connected{}, err
	}
	cc, err := d.connect(key, c)
	if err == nil {
		d.secretKeys[ref] = key
	}
	return cc, err
}

// closeClusters stops the watches of every connected cluster's drift
// detector.
func (d *Daemon) closeClusters() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for key, c := range d.clusters {
		if c.planner.Drift != nil {
			c.planner.Drift.Close()
		}
		delete(d.clusters, key)
	}
}

// connect makes the planner of a new cluster connection and remembers it
// under key. d.mu is held.
func (d *Daemon) connect(key string, c *kube.Cluster) (connected, error) {
	p, err := reconciler.NewPlanner(c, filepath.Join(d.opts.CacheDir, "charts"))
	if err != nil {
		return connected{}, err
	}
	if p.Drift != nil {
		p.Drift.OnChange(func(ch drift.Change) { d.objectChanged(c, ch) })
	}
	cc := connected{cluster: c, planner: p}
	d.clusters[key] = cc
	return cc, nil
}
