package kube

import (
	"context"

	"fmt"
	"log/slog"

	"helm.sh/helm/v3/pkg/release"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/kube"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
)

// Release labels digitops records on every Helm release it writes.
const (
	// LabelEnvironment names the environment that owns the release. Its
	// presence is what makes a release digitops's to prune.
	LabelEnvironment = "digitops.io/environment"
	// LabelChartDigest is a digest of the chart that was deployed.
	LabelChartDigest = "digitops.io/chart-digest"
	// LabelValuesDigest is a digest of the values that were deployed.
	LabelValuesDigest = "digitops.io/values-digest"
	// LabelRevision is the revision digitops wrote. Helm copies custom
	// labels into the next revision, so a revision written by anyone else
	// (a manual helm upgrade or rollback) carries a stale number and is
	// recognised as not digitops's.
	LabelRevision = "digitops.io/revision"
	// LabelReplica is the replica of serve --shard that wrote the
	// revision (its identity), absent outside sharding.
	LabelReplica = "digitops.io/replica"
	// LabelCommit is the Git commit whose chart and values the revision
	// holds: the daemon's sync's, or apply's when it read a commit.
	// Absent when digitops did not know it (apply of a local directory
	// read as it is); a rollback's revision keeps the one of the revision
	// it restores.
	LabelCommit = "digitops.io/commit"
	// LabelRemediation marks a revision digitops wrote to remediate a
	// failure ("rolled-back-to-N": a rollback of a failed upgrade).
	LabelRemediation = "digitops.io/remediation"
	// LabelTakeover marks an install that took live objects over (see
	// findTakeovers): it is never uninstalled to remediate, since that
	// would delete what the cluster ran before digitops.
	LabelTakeover = "digitops.io/took-over"
	// LabelOrphans ("kept") marks a release that left objects it had
	// adopted in place when it stopped rendering them (prune was off):
	// the plan looks for them again while prune is on (see Orphan).
	LabelOrphans = "digitops.io/orphans"
)

// The takeover's record on every object an install adopted (see
// claimAdopted): the label finds them with a selector, the annotation says
// which environment's release took them. Only objects with both are ever
// deleted as orphans.
const (
	// AdoptedByLabel is the name of the release that adopted the object.
	AdoptedByLabel = "digitops.io/adopted-by"
	// AdoptedByAnnotation is "environment/namespace/release".
	AdoptedByAnnotation = "digitops.io/adopted-by"
	// HelmResourcePolicyAnnotation "keep" stops Helm's upgrade from
	// deleting the object when the release stops rendering it: digitops
	// deletes it, as an orphan, only with prune on.
	HelmResourcePolicyAnnotation = "helm.sh/resource-policy"
)

// Helm's ownership metadata (what `helm install` checks on an object that
// already exists).
const (
	HelmManagedByLabel             = "app.kubernetes.io/managed-by"
	HelmReleaseNameAnnotation      = "meta.helm.sh/release-name"
	HelmReleaseNamespaceAnnotation = "meta.helm.sh/release-namespace"
)

// actionConfig returns a Helm action configuration for namespace, with the
// Secrets storage driver.
func (c *Cluster) ActionConfig(namespace string, log *slog.Logger) *action.Configuration {
	getter := c.getter(namespace)
	kc := kube.New(getter)
	kc.Namespace = namespace
	debug := func(format string, v ...any) {
		log.Debug("helm", "namespace", namespace, "detail", fmt.Sprintf(format, v...))
	}
	kc.Log = debug
	d := driver.NewSecrets(c.Clientset.CoreV1().Secrets(namespace))
	d.Log = debug
	return &action.Configuration{
		RESTClientGetter: getter,
		KubeClient:       kc,
		Releases:         storage.Init(d),
		Log:              debug,
	}
}

// ReadRelease reads one revision of a release from Helm's storage; version 0
// means the newest revision. It returns driver.ErrReleaseNotFound (wrapped)
// when there is none.
func ReadRelease(ctx context.Context, c *Cluster, namespace, name string, version int) (*release.Release, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg := c.ActionConfig(namespace, slog.New(slog.DiscardHandler))
	var (
		rel *release.Release
		err error
	)
	if version > 0 {
		rel, err = cfg.Releases.Get(name, version)
	} else {
		rel, err = cfg.Releases.Last(name)
	}
	if err != nil {
		return nil, fmt.Errorf("unable to read release %q: %w", name, err)
	}
	return rel, nil
}
