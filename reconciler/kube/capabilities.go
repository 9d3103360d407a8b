package kube

import (
	"fmt"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/client-go/discovery"
)

// capabilitiesTTL is how long a cluster's discovered capabilities are reused.
// Helm rediscovers them, after flushing the discovery cache, for every
// action; one discovery per sync-sized window is enough, and a CRD a release
// installs is seen by the next window.
const capabilitiesTTL = 30 * time.Second

// capabilities returns the cluster's Kubernetes version and API versions for
// Helm's templates, discovering them at most once per capabilitiesTTL.
func (c *Cluster) Capabilities() (*chartutil.Capabilities, error) {
	c.capsMu.Lock()
	defer c.capsMu.Unlock()
	if c.caps != nil && time.Since(c.capsAt) < capabilitiesTTL {
		return c.caps, nil
	}
	c.discovery.Invalidate()
	version, err := c.discovery.ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("unable to get the Kubernetes server version: %w", err)
	}
	apis, err := action.GetVersionSet(c.discovery)
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, fmt.Errorf("unable to get the API versions: %w", err)
	}
	c.caps = &chartutil.Capabilities{
		APIVersions: apis,
		KubeVersion: chartutil.KubeVersion{Version: version.GitVersion, Major: version.Major, Minor: version.Minor},
		HelmVersion: chartutil.DefaultCapabilities.HelmVersion,
	}
	c.capsAt = time.Now()
	return c.caps, nil
}
