package reconciler

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/reconciler/kube"
)

// namespaces makes sure the namespaces releases install into exist, reading
// each at most once per Apply.
//
// Helm's own CreateNamespace builds the Namespace through the kubectl
// resource builder with strict validation, which downloads and parses the
// cluster's OpenAPI document for core/v1 on every install (over a third of
// a cold install's CPU); a GET, and a POST only when it is missing, does the
// same job.
type namespaces struct {
	cluster *kube.Cluster

	mu      sync.Mutex
	entries map[string]*namespaceEntry
}

// namespaceEntry is one namespace: ok once it is known to exist. Its lock
// makes the releases of a namespace wait for the one asking the apiserver.
type namespaceEntry struct {
	mu sync.Mutex
	ok bool
}

func newNamespaces(c *kube.Cluster) *namespaces {
	return &namespaces{cluster: c, entries: map[string]*namespaceEntry{}}
}

// namespaceOwner is the release a namespace is created for when that
// release's chart renders the Namespace itself: DIGIT's cluster-configs
// creates the environment's namespaces, its own among them. The namespace is
// then created (or, when digitops created it earlier, marked) with Helm's
// ownership metadata for that release, so that Helm takes it in instead of
// refusing an object it did not create.
type namespaceOwner struct {
	release, namespace string
}

// ownerOfNamespace returns the owner for the namespace of an install whose
// rendered manifest holds that Namespace, nil otherwise.
func ownerOfNamespace(step *Step) *namespaceOwner {
	if step.rendered == "" || !strings.Contains(step.rendered, "Namespace") {
		return nil
	}
	objs, err := kube.Objects(step.rendered)
	if err != nil {
		return nil
	}
	for _, o := range objs {
		if o.GetKind() == "Namespace" && o.GetAPIVersion() == "v1" && o.GetName() == step.Release.Namespace {
			return &namespaceOwner{release: step.Release.Name, namespace: step.Release.Namespace}
		}
	}
	return nil
}

// ensure creates namespace name, labelled as Helm labels the namespaces it
// creates, unless it exists. A failure is not remembered: the next install
// into that namespace tries again. With an owner the namespace is read
// again (an earlier install may have created it without one).
func (n *namespaces) ensure(ctx context.Context, name string, owner *namespaceOwner) error {
	n.mu.Lock()
	e, found := n.entries[name]
	if !found {
		e = &namespaceEntry{}
		n.entries[name] = e
	}
	n.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ok && owner == nil {
		return nil
	}
	if err := createNamespace(ctx, n.cluster, name, owner); err != nil {
		return err
	}
	e.ok = true
	return nil
}

// createNamespace creates namespace name unless it exists. With an owner,
// the namespace carries Helm's ownership metadata for that release; an
// existing one gets it only when nothing but digitops ever wrote it and no
// release owns it yet (anything else is left for Helm to refuse).
func createNamespace(ctx context.Context, c *kube.Cluster, name string, owner *namespaceOwner) error {
	nsClient := c.Clientset.CoreV1().Namespaces()
	live, err := nsClient.Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		if owner == nil || !createdByDigitops(live) {
			return nil
		}
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": owner.labels(), "annotations": owner.annotations()}})
		if err != nil {
			return err
		}
		if _, err := nsClient.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: drift.HelmFieldManager()}); err != nil {
			return fmt.Errorf("unable to hand namespace %q to release %q: %w", name, owner.release, err)
		}
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("unable to read namespace %q: %w", name, err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"name": name}}}
	if owner != nil {
		ns.Labels, ns.Annotations = owner.labels(), owner.annotations()
		ns.Labels["name"] = name
	}
	if _, err := nsClient.Create(ctx, ns, metav1.CreateOptions{FieldManager: drift.HelmFieldManager()}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("unable to create namespace %q: %w", name, err)
	}
	return nil
}

// createdByDigitops reports whether only digitops ever wrote namespace ns
// and no Helm release owns it.
func createdByDigitops(ns *corev1.Namespace) bool {
	if ns.Annotations[kube.HelmReleaseNameAnnotation] != "" || len(ns.ManagedFields) == 0 {
		return false
	}
	for _, f := range ns.ManagedFields {
		if f.Manager != drift.HelmFieldManager() {
			return false
		}
	}
	return true
}

func (o *namespaceOwner) labels() map[string]string {
	return map[string]string{kube.HelmManagedByLabel: "Helm"}
}

func (o *namespaceOwner) annotations() map[string]string {
	return map[string]string{kube.HelmReleaseNameAnnotation: o.release, kube.HelmReleaseNamespaceAnnotation: o.namespace}
}
