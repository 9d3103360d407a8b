package reconciler

import (
	"context"
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/digitops/digitops/reconciler/kube"
)

// Uninstall removes a release digitops owns that Git no longer has.
//
// On success the release and its objects are gone (no history kept), but
// for the objects it hands over (step.HandsOver): those were taken by
// installs that ran first, and stay. On failure the release may be left
// uninstalling; the next sync retries. The caller must have checked that
// the environment owns the release and that the prune guard allows it,
// and, for a hand-over, that the installs taking the objects succeeded.
type Uninstall struct{ helmEnv }

var _ ActionRunner = Uninstall{}

// Name implements ActionRunner.
func (Uninstall) Name() Action { return ActionUninstall }

// Run implements ActionRunner.
func (a Uninstall) Run(ctx context.Context, step *Step) (Applied, error) {
	if step.Live == nil || step.Live.Environment != a.environment {
		return Applied{}, fmt.Errorf("refusing to uninstall release %q: environment %q does not own it", step.Release.Name, a.environment)
	}
	if len(step.HandsOver) > 0 {
		if err := a.leaveHandedOver(ctx, step); err != nil {
			return Applied{}, err
		}
	}
	un := action.NewUninstall(a.config(step.Release.Namespace))
	un.Timeout = a.timeout()
	un.Wait = a.policy.Wait
	if _, err := un.Run(step.Release.Name); err != nil {
		return Applied{}, fmt.Errorf("unable to uninstall release %q: %w", step.Release.Name, err)
	}
	return Applied{}, ctx.Err()
}

// leaveHandedOver takes the objects the step hands over out of the
// manifest of the release's newest revision, in place: Helm's uninstall
// deletes what that manifest lists, and these now belong to another
// release. The write is conditional on the revision not having changed
// since it was read.
func (a Uninstall) leaveHandedOver(ctx context.Context, step *Step) error {
	spec := step.Release
	drop := make(map[string]bool, len(step.HandsOver))
	for _, h := range step.HandsOver {
		drop[h.Object] = true
	}
	err := kube.RewriteStoredRelease(ctx, a.cluster.Clientset.CoreV1().Secrets(spec.Namespace), spec.Name, step.Live.Version, func(rel *release.Release) error {
		m, err := withoutObjects(rel.Manifest, spec.Namespace, drop)
		if err != nil {
			return err
		}
		rel.Manifest = m
		return nil
	})
	if err != nil {
		return fmt.Errorf("unable to uninstall release %q keeping the objects it hands over: %w", spec.Name, err)
	}
	return nil
}

// withoutObjects is a release manifest without the objects drop names
// (see renderedName; namespace is the release's), every other document
// kept as it is.
func withoutObjects(m, namespace string, drop map[string]bool) (string, error) {
	var b strings.Builder
	for _, doc := range kube.Documents(m) {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			return "", fmt.Errorf("unable to parse the stored manifest: %w", err)
		}
		if u.Object != nil && drop[renderedName(u, namespace)] {
			continue
		}
		b.WriteString("---\n" + strings.Trim(doc, "\n") + "\n")
	}
	return b.String(), nil
}
