package reconciler

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"helm.sh/helm/v3/pkg/action"

	"github.com/digitops/digitops/policy"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// ActionRunner carries out one kind of step.
type ActionRunner interface {
	// Name is the action this runner carries out.
	Name() Action
	// Run acts on the step and returns what it left deployed. It never
	// writes to the step: the plan is the same before and after.
	Run(ctx context.Context, step *Step) (Applied, error)
}

// Applied is what an action left in the cluster: a value, like the entries
// of ssa's ChangeSet, not a field written into the plan.
type Applied struct {
	// Revision is the release revision left deployed (0 after an
	// uninstall).
	Revision int
	// Manifest is the manifest Helm rendered when it installed or
	// upgraded, empty for the other actions.
	Manifest string
	// Unchanged is set when the action found nothing to change: a drift
	// correction whose objects already matched the release (the drift was
	// read from a watch cache a moment behind a correction just made).
	// The step's outcome is then "unchanged".
	Unchanged bool
}

// helmEnv is what every Helm action needs.
type helmEnv struct {
	cluster     *kube.Cluster
	log         *slog.Logger
	environment string
	policy      manifest.SyncPolicy
	// namespaces, shared by the actions of one Apply, creates the
	// namespaces installs need; nil creates them without remembering.
	namespaces *namespaces
	// allowed is the operator's policy the plan was checked against: a
	// render Helm makes again as it acts is checked against it too.
	allowed *policy.Rules
	// replica, when set, labels every revision written (LabelReplica).
	replica string
	// commit, when set, labels every revision written (LabelCommit).
	commit string
}

// ensureNamespace makes sure the namespace of an install exists (owned by
// the release when its chart renders that Namespace).
func (h helmEnv) ensureNamespace(ctx context.Context, step *Step) error {
	owner := ownerOfNamespace(step)
	if h.namespaces == nil {
		return createNamespace(ctx, h.cluster, step.Release.Namespace, owner)
	}
	return h.namespaces.ensure(ctx, step.Release.Namespace, owner)
}

// config is the Helm configuration for an action that renders or applies.
// It carries the cluster's capabilities so that Helm does not flush the
// discovery cache and rediscover them for every action (on error Helm
// discovers them itself); plain reads of Helm storage need none of this.
func (h helmEnv) config(namespace string) *action.Configuration {
	cfg := h.cluster.ActionConfig(namespace, h.log)
	if caps, err := h.cluster.Capabilities(); err == nil {
		cfg.Capabilities = caps
	}
	return cfg
}

// labels are the release labels digitops records on the revision it is about
// to write, which will be number revision. The replica and the commit are
// left out when unknown: see unknownLabels.
func (h helmEnv) labels(step *Step, revision int) map[string]string {
	l := map[string]string{
		kube.LabelEnvironment:  h.environment,
		kube.LabelChartDigest:  step.Desired.ChartDigest,
		kube.LabelValuesDigest: step.Desired.ValuesDigest,
		kube.LabelRevision:     strconv.Itoa(revision),
	}
	if h.replica != "" {
		l[kube.LabelReplica] = h.replica
	}
	if h.commit != "" {
		l[kube.LabelCommit] = h.commit
	}
	return l
}

// unknownLabels are the labels of labels that this write does not know
// (no replica outside serve --shard, no commit for a directory read as it
// is): a write that starts from an earlier revision's labels (Helm's
// upgrade merges them in; a record rewrites that revision) must drop
// them, or the revision would name a replica or a commit it does not
// come from.
func unknownLabels(labels map[string]string) []string {
	var out []string
	for _, k := range []string{kube.LabelReplica, kube.LabelCommit} {
		if _, ok := labels[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

func (h helmEnv) timeout() time.Duration {
	if h.policy.Timeout > 0 {
		return h.policy.Timeout
	}
	return 5 * time.Minute
}
