package reconciler

import (
	"fmt"

	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/chartrepo"
)

// NewPlanner returns the Planner the CLI and the daemon use: local charts
// with file:// dependencies, remote charts cached by digest under
// chartCacheDir, and, when cluster is not nil, drift detection and the live
// image tags of services a release chart lists without one. A nil cluster
// gives an offline planner: no drift, chart default tags.
//
// Keep one Planner per cluster and reuse it: its drift detector keeps the
// watches of live objects and the manifests of deployed revisions between
// syncs, so that a drift check of an unchanged cluster makes no request.
// Close its Drift detector when done with the cluster.
func NewPlanner(cluster *kube.Cluster, chartCacheDir string) (*Planner, error) {
	p := &Planner{
		Charts:  LocalCharts{Remote: &chartrepo.Cache{Dir: chartCacheDir}},
		Cluster: cluster,
	}
	if cluster != nil {
		d, err := drift.NewDetector(cluster)
		if err != nil {
			return nil, fmt.Errorf("unable to set up drift detection: %w", err)
		}
		p.Drift = d
	}
	return p, nil
}
