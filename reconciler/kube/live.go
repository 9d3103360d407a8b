package kube

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"helm.sh/helm/v3/pkg/release"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// LiveRelease is what the cluster says about the newest revision of one Helm
// release, read from the labels of its storage Secret (no decoding).
type LiveRelease struct {
	Name      string
	Namespace string
	// Version is the newest revision.
	Version int
	// Status is that revision's status.
	Status release.Status
	// Modified is when that revision was last written.
	Modified time.Time
	// Environment is the owning environment, empty when digitops does not own it.
	Environment string
	// ChartDigest and ValuesDigest are what digitops recorded when it wrote
	// the revision.
	ChartDigest  string
	ValuesDigest string
	// WrittenRevision is the revision digitops recorded writing, 0 if unknown.
	WrittenRevision int
	// LastDeployed is the newest revision with status deployed, 0 if none.
	LastDeployed int
	// TookOver is set when the revision is an install that took live
	// objects over: uninstalling it would delete them.
	TookOver bool
	// KeptOrphans is set when an upgrade of the release left objects it
	// had adopted in place (kube.LabelOrphans).
	KeptOrphans bool
}

// Key identifies a release in a cluster.
func (l LiveRelease) Key() string { return l.Namespace + "/" + l.Name }

// LiveState is the live Helm releases of a cluster, by namespace/name.
type LiveState map[string]LiveRelease

var SecretsResource = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}

// ReadLiveState lists every Helm release of the cluster in one metadata-only
// request and keeps the newest revision of each.
func ReadLiveState(ctx context.Context, c *Cluster) (LiveState, error) {
	list, err := c.Metadata.Resource(SecretsResource).Namespace(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm"})
	if err != nil {
		return nil, fmt.Errorf("unable to list Helm releases: %w", err)
	}
	state := LiveState{}
	for _, item := range list.Items {
		l := item.Labels
		version, err := strconv.Atoi(l["version"])
		if err != nil || l["name"] == "" {
			continue
		}
		key := item.Namespace + "/" + l["name"]
		cur, seen := state[key]
		status := release.Status(l["status"])
		deployed := cur.LastDeployed
		if status == release.StatusDeployed && version > deployed {
			deployed = version
		}
		if seen && cur.Version > version {
			cur.LastDeployed = deployed
			state[key] = cur
			continue
		}
		modified := item.CreationTimestamp.Time
		// A pending revision's age is its record's: Helm copies the
		// previous revision's modifiedAt label into the new one, so a
		// 5-second-old upgrade would look minutes old.
		if s, err := strconv.ParseInt(l["modifiedAt"], 10, 64); err == nil && !isPending(status) {
			modified = time.Unix(s, 0)
		}
		written, _ := strconv.Atoi(l[LabelRevision])
		state[key] = LiveRelease{
			WrittenRevision: written,
			Name:            l["name"],
			Namespace:       item.Namespace,
			Version:         version,
			Status:          status,
			Modified:        modified,
			Environment:     l[LabelEnvironment],
			ChartDigest:     l[LabelChartDigest],
			ValuesDigest:    l[LabelValuesDigest],
			LastDeployed:    deployed,
			TookOver:        l[LabelTakeover] == "true",
			KeptOrphans:     l[LabelOrphans] == "kept",
		}
	}
	return state, nil
}

// NewestRevision returns the newest revision of one Helm release in Helm's
// storage (one metadata-only request), 0 when it has none.
func NewestRevision(ctx context.Context, c *Cluster, namespace, name string) (int, error) {
	sel := labels.SelectorFromSet(labels.Set{"owner": "helm", "name": name})
	list, err := c.Metadata.Resource(SecretsResource).Namespace(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return 0, fmt.Errorf("unable to list the revisions of release %q: %w", name, err)
	}
	newest := 0
	for _, item := range list.Items {
		if v, err := strconv.Atoi(item.Labels["version"]); err == nil && v > newest {
			newest = v
		}
	}
	return newest, nil
}

// isPending reports whether a release status is an operation in progress.
func isPending(s release.Status) bool {
	return s == release.StatusPendingInstall || s == release.StatusPendingUpgrade || s == release.StatusPendingRollback
}
