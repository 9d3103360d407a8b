package reconciler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	kstatus "github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/digitops/digitops/internal/redact"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// readinessInterval is the pause between two readiness polls.
const readinessInterval = time.Second

// Readiness is how far one object is from ready.
type Readiness struct {
	// Ready means the object is ready for what depends on it.
	Ready bool
	// Failed means it will not become ready without a change (a Deployment
	// past its progress deadline, a failed Job); waiting stops.
	Failed bool
	// Message says what is missing.
	Message string
}

var ready = Readiness{Ready: true}

func notReady(format string, args ...any) Readiness {
	return Readiness{Message: fmt.Sprintf(format, args...)}
}

func replicasOf(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// DeploymentReadiness is kstatus's rule: the controller has observed the
// newest generation and every desired replica is updated and available, with
// no old replica left.
func DeploymentReadiness(d *appsv1.Deployment) Readiness {
	if d.Generation > d.Status.ObservedGeneration {
		return notReady("generation %d not yet observed", d.Generation)
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
			return Readiness{Failed: true, Message: "progress deadline exceeded: " + c.Message}
		}
	}
	if d.Spec.Paused {
		return ready
	}
	want := replicasOf(d.Spec.Replicas)
	s := d.Status
	switch {
	case s.UpdatedReplicas < want:
		return notReady("%d of %d replicas updated", s.UpdatedReplicas, want)
	case s.Replicas > s.UpdatedReplicas:
		return notReady("%d old replicas pending termination", s.Replicas-s.UpdatedReplicas)
	case s.AvailableReplicas < want:
		return notReady("%d of %d replicas available", s.AvailableReplicas, want)
	}
	return ready
}

// StatefulSetReadiness: observed, every replica ready, and a rolling update
// (without partition) finished. With the OnDelete strategy (DIGIT's
// kafka, zookeeper, elasticsearch and redis) the pods are replaced only
// when deleted, so an update is not waited for, but the wanted replicas
// must be ready all the same.
func StatefulSetReadiness(s *appsv1.StatefulSet) Readiness {
	if s.Generation > s.Status.ObservedGeneration {
		return notReady("generation %d not yet observed", s.Generation)
	}
	want := replicasOf(s.Spec.Replicas)
	st := s.Status
	if st.ReadyReplicas < want {
		return notReady("%d of %d replicas ready", st.ReadyReplicas, want)
	}
	if s.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return ready
	}
	partition := int32(0)
	if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		partition = *ru.Partition
	}
	switch {
	case st.UpdatedReplicas < want-partition:
		return notReady("%d of %d replicas updated", st.UpdatedReplicas, want-partition)
	case partition == 0 && st.UpdateRevision != "" && st.CurrentRevision != st.UpdateRevision:
		return notReady("rolling update to %s in progress", st.UpdateRevision)
	}
	return ready
}

// DaemonSetReadiness: observed, and the pod is updated and available on every
// node that should run it; with the OnDelete strategy, available (an update
// waits for the pods to be deleted).
func DaemonSetReadiness(d *appsv1.DaemonSet) Readiness {
	if d.Generation > d.Status.ObservedGeneration {
		return notReady("generation %d not yet observed", d.Generation)
	}
	s := d.Status
	if d.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType {
		if s.NumberAvailable < s.DesiredNumberScheduled {
			return notReady("%d of %d pods available", s.NumberAvailable, s.DesiredNumberScheduled)
		}
		return ready
	}
	switch {
	case s.UpdatedNumberScheduled < s.DesiredNumberScheduled:
		return notReady("%d of %d pods updated", s.UpdatedNumberScheduled, s.DesiredNumberScheduled)
	case s.NumberAvailable < s.DesiredNumberScheduled:
		return notReady("%d of %d pods available", s.NumberAvailable, s.DesiredNumberScheduled)
	}
	return ready
}

// JobReadiness: a Job is ready when it is complete (unlike kstatus, for which
// a running Job is current: what depends on a migration Job needs it done).
func JobReadiness(j *batchv1.Job) Readiness {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return ready
		case batchv1.JobFailed:
			return Readiness{Failed: true, Message: "job failed: " + c.Message}
		}
	}
	completions := int32(1)
	if j.Spec.Completions != nil {
		completions = *j.Spec.Completions
	}
	return notReady("%d of %d completions", j.Status.Succeeded, completions)
}

// readinessOf reads one object and says how ready it is: Deployments,
// StatefulSets, DaemonSets and Jobs by digitops's rules, kinds that carry
// no status once they exist, any other kind (a PVC, a Pod, a custom
// resource with standard conditions) as kstatus computes it.
func readinessOf(ctx context.Context, c *kube.Cluster, o kube.ObjectRef) (Readiness, error) {
	gv, err := schema.ParseGroupVersion(o.APIVersion)
	if err != nil {
		return Readiness{}, fmt.Errorf("object %s: %w", o, err)
	}
	get := metav1.GetOptions{}
	var r Readiness
	switch (schema.GroupKind{Group: gv.Group, Kind: o.Kind}) {
	case schema.GroupKind{Group: "apps", Kind: "Deployment"}:
		var d *appsv1.Deployment
		if d, err = c.Clientset.AppsV1().Deployments(o.Namespace).Get(ctx, o.Name, get); err == nil {
			r = DeploymentReadiness(d)
		}
	case schema.GroupKind{Group: "apps", Kind: "StatefulSet"}:
		var s *appsv1.StatefulSet
		if s, err = c.Clientset.AppsV1().StatefulSets(o.Namespace).Get(ctx, o.Name, get); err == nil {
			r = StatefulSetReadiness(s)
		}
	case schema.GroupKind{Group: "apps", Kind: "DaemonSet"}:
		var d *appsv1.DaemonSet
		if d, err = c.Clientset.AppsV1().DaemonSets(o.Namespace).Get(ctx, o.Name, get); err == nil {
			r = DaemonSetReadiness(d)
		}
	case schema.GroupKind{Group: "batch", Kind: "Job"}:
		var j *batchv1.Job
		if j, err = c.Clientset.BatchV1().Jobs(o.Namespace).Get(ctx, o.Name, get); err == nil {
			r = JobReadiness(j)
		}
	default:
		var m *meta.RESTMapping
		m, err = c.Mapper().RESTMapping(schema.GroupKind{Group: gv.Group, Kind: o.Kind}, gv.Version)
		if meta.IsNoMatchError(err) {
			// A CRD installed by this very release may not be discovered yet.
			meta.MaybeResetRESTMapper(c.Mapper())
			return notReady("kind %s not yet served", o.Kind), nil
		}
		if err != nil {
			return Readiness{}, fmt.Errorf("object %s: %w", o, err)
		}
		ns := o.Namespace
		if m.Scope.Name() == meta.RESTScopeNameRoot {
			ns = ""
		}
		if hasNoStatus(m.GroupVersionKind.GroupKind()) {
			// Ready once it exists: its metadata alone is read.
			if _, err = c.Metadata.Resource(m.Resource).Namespace(ns).Get(ctx, o.Name, get); err == nil {
				r = ready
			}
			break
		}
		var u *unstructured.Unstructured
		if u, err = c.Dynamic.Resource(m.Resource).Namespace(ns).Get(ctx, o.Name, get); err == nil {
			r = ComputedReadiness(u)
		}
	}
	if apierrors.IsNotFound(err) {
		return notReady("not found"), nil
	}
	if err != nil {
		return Readiness{}, fmt.Errorf("unable to read %s: %w", o, err)
	}
	return r, nil
}

// WaitReady polls the objects until every one is ready, one fails, or timeout
// passes. Objects found ready are not read again. The error names the
// objects that are not ready and why.
func WaitReady(ctx context.Context, c *kube.Cluster, objs []kube.ObjectRef, timeout time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pending := objs
	for {
		var still []string
		var left []kube.ObjectRef
		for _, o := range pending {
			r, err := readinessOf(wctx, c, o)
			if err != nil && wctx.Err() == nil {
				// A transient read error: try again next round.
				r = notReady("%v", err)
			}
			if r.Failed {
				return fmt.Errorf("%s: %s", o, r.Message)
			}
			if !r.Ready {
				left = append(left, o)
				if r.Message == "" {
					r.Message = "not read"
				}
				still = append(still, o.String()+": "+r.Message)
			}
		}
		if len(left) == 0 {
			return nil
		}
		pending = left
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("not ready after %s: %s", timeout, strings.Join(still, "; "))
		case <-time.After(readinessInterval):
		}
	}
}

// waitReady is the readiness gate after an install or upgrade: when the
// policy asks to wait, it waits for the objects rel deployed. Helm's own wait
// is always off, so this is the one wait both for the action and for the
// releases that need this one.
func (h helmEnv) waitReady(ctx context.Context, rel *release.Release) error {
	if !h.policy.Wait {
		return nil
	}
	objs, err := kube.ManifestObjects(rel.Manifest, rel.Namespace)
	if err != nil {
		return fmt.Errorf("release %q: %w", rel.Name, err)
	}
	start := time.Now()
	if err := WaitReady(ctx, h.cluster, objs, h.timeout()); err != nil {
		return fmt.Errorf("release %q is not ready: %w", rel.Name, err)
	}
	h.log.Debug("ready", "release", rel.Name, "namespace", rel.Namespace, "revision", rel.Version, "objects", len(objs), "duration", time.Since(start))
	return nil
}

// liveReady waits for the objects of a live release digitops did not act on
// in this sync (unchanged), before a release that needs it starts. It costs
// one read of the release and one per object not yet ready.
func (h helmEnv) liveReady(ctx context.Context, step *Step) error {
	if !h.policy.Wait || step.Live == nil {
		return nil
	}
	rel, err := h.config(step.Release.Namespace).Releases.Get(step.Release.Name, step.Live.Version)
	if err != nil {
		return fmt.Errorf("unable to read release %q: %w", step.Release.Name, err)
	}
	return h.waitReady(ctx, rel)
}

// markFailed records on the revision Helm wrote that it did not become ready,
// as Helm's own wait would have, so that the next sync retries it.
func markFailed(cfg *action.Configuration, rel *release.Release, cause error) error {
	rel.SetStatus(release.StatusFailed, "digitops: "+cause.Error())
	if err := cfg.Releases.Update(rel); err != nil {
		return errors.Join(cause, fmt.Errorf("unable to mark release %q failed: %w", rel.Name, err))
	}
	return cause
}

// again says whether a failed attempt (counted from 0) at an action on spec
// is tried again under the policy's Retries; if so, it logs the failure and
// pauses first.
func (h helmEnv) again(ctx context.Context, spec manifest.ReleaseSpec, attempt int, err error) bool {
	if attempt >= h.policy.Retries || ctx.Err() != nil {
		return false
	}
	h.log.Warn("failed, retrying", "release", spec.Name, "namespace", spec.Namespace, "attempt", attempt+1, "error", redact.Secrets(err.Error(), spec.SecretValues))
	return pause(ctx, attempt) == nil
}

// pause waits before retry attempt (1s, 2s, 4s ... at most 30s), or until ctx
// is done.
func pause(ctx context.Context, attempt int) error {
	d := time.Second << min(attempt, 5)
	d = min(d, 30*time.Second)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// ComputedReadiness is kstatus's verdict on an object, the rule Flux and
// Helm 4 wait on: Current is ready, Failed (a Stalled condition) has
// failed, anything else (InProgress, Terminating, Unknown) is not ready
// yet, with kstatus's message. A custom resource whose controller writes
// no status is Current.
func ComputedReadiness(u *unstructured.Unstructured) Readiness {
	res, err := kstatus.Compute(u)
	if err != nil {
		return notReady("status unknown: %v", err)
	}
	switch res.Status {
	case kstatus.CurrentStatus:
		return ready
	case kstatus.FailedStatus:
		return Readiness{Failed: true, Message: res.Message}
	}
	return notReady("%s: %s", strings.ToLower(string(res.Status)), res.Message)
}

// hasNoStatus reports whether a kind carries no status to wait on (its
// metadata is read, not its data: a Secret's values stay unread).
func hasNoStatus(gk schema.GroupKind) bool {
	switch gk.Group {
	case "":
		switch gk.Kind {
		case "ConfigMap", "Secret", "ServiceAccount", "Endpoints", "LimitRange", "ResourceQuota":
			return true
		}
	case "rbac.authorization.k8s.io":
		return true
	case "networking.k8s.io":
		return gk.Kind == "NetworkPolicy" || gk.Kind == "IngressClass"
	case "discovery.k8s.io", "scheduling.k8s.io", "storage.k8s.io", "admissionregistration.k8s.io":
		return true
	}
	return false
}
