package reconciler

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	cluster *Cluster

	mu      sync.Mutex
	entries map[string]*namespaceEntry
}

// namespaceEntry is one namespace: ok once it is known to exist. Its lock
// makes the releases of a namespace wait for the one asking the apiserver.
type namespaceEntry struct {
	mu sync.Mutex
	ok bool
}

func newNamespaces(c *Cluster) *namespaces {
	return &namespaces{cluster: c, entries: map[string]*namespaceEntry{}}
}

// ensure creates namespace name, labelled as Helm labels the namespaces it
// creates, unless it exists. A failure is not remembered: the next install
// into that namespace tries again.
func (n *namespaces) ensure(ctx context.Context, name string) error {
	n.mu.Lock()
	e, found := n.entries[name]
	if !found {
		e = &namespaceEntry{}
		n.entries[name] = e
	}
	n.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ok {
		return nil
	}
	if err := createNamespace(ctx, n.cluster, name); err != nil {
		return err
	}
	e.ok = true
	return nil
}

// createNamespace creates namespace name unless it exists.
func createNamespace(ctx context.Context, c *Cluster, name string) error {
	nsClient := c.Clientset.CoreV1().Namespaces()
	_, err := nsClient.Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("unable to read namespace %q: %w", name, err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"name": name}}}
	if _, err := nsClient.Create(ctx, ns, metav1.CreateOptions{FieldManager: HelmFieldManager()}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("unable to create namespace %q: %w", name, err)
	}
	return nil
}
