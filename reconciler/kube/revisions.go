package kube

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"helm.sh/helm/v3/pkg/release"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Revision is one revision of a release in Helm's storage, as its history
// lists it.
type Revision struct {
	Version int
	// Status is Helm's (deployed, superseded, failed, pending-upgrade, …),
	// Updated when Helm last deployed it, Description Helm's ("Upgrade
	// complete", "Rollback to 3").
	Status      release.Status
	Updated     time.Time
	Description string
	// Chart is the chart's "name-version", AppVersion its appVersion.
	Chart      string
	AppVersion string
	// Labels are the revision's own labels (digitops's among them), without
	// the storage's (name, owner, status, version, createdAt, modifiedAt).
	Labels map[string]string
	// Manifest is what the revision deployed.
	Manifest string
}

// isStorageLabel reports whether k is a label Helm's Secret driver sets on
// every storage Secret beside the release's own.
func isStorageLabel(k string) bool {
	switch k {
	case "name", "owner", "status", "version", "createdAt", "modifiedAt":
		return true
	}
	return false
}

// ReadRevisions reads every revision of a release from Helm's storage
// Secrets (one LIST), newest first; none, and no error, when the release
// has none. Each revision is decoded whole (Helm's history needs its
// chart and description), so this is for one release at a time, on
// request: never in a sync.
func ReadRevisions(ctx context.Context, c *Cluster, namespace, name string) ([]Revision, error) {
	sel := labels.SelectorFromSet(labels.Set{"owner": "helm", "name": name})
	list, err := c.Clientset.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("unable to list the revisions of release %q: %w", name, err)
	}
	out := make([]Revision, 0, len(list.Items))
	for i := range list.Items {
		s := &list.Items[i]
		version, err := strconv.Atoi(s.Labels["version"])
		if err != nil {
			continue
		}
		rel, err := decodeRelease(s.Data["release"])
		if err != nil {
			return nil, fmt.Errorf("unable to decode release %q revision %d: %w", name, version, err)
		}
		rev := Revision{Version: version, Status: release.Status(s.Labels["status"]), Manifest: rel.Manifest, Labels: map[string]string{}}
		if rel.Info != nil {
			rev.Status, rev.Updated, rev.Description = rel.Info.Status, rel.Info.LastDeployed.Time, rel.Info.Description
		}
		if rel.Chart != nil && rel.Chart.Metadata != nil {
			rev.Chart = rel.Chart.Metadata.Name + "-" + rel.Chart.Metadata.Version
			rev.AppVersion = rel.Chart.Metadata.AppVersion
		}
		for k, v := range s.Labels {
			if !isStorageLabel(k) {
				rev.Labels[k] = v
			}
		}
		out = append(out, rev)
	}
	slices.SortFunc(out, func(a, b Revision) int { return cmp.Compare(b.Version, a.Version) })
	return out, nil
}
