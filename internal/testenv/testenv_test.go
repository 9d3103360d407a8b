package testenv_test

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/digitops/digitops/internal/testenv"
)

// The fake node keeps its heartbeat: its pods stay Ready for several of
// the node-lifecycle controller's grace periods (without kwok's node Lease
// every pod of the demo turned NotReady about a minute after start).
func TestExtras_nodeAndPodsStayReady(t *testing.T) {
	env := testenv.ForTest(t, testenv.Options{Extras: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	available := func() bool {
		d, err := cs.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		return err == nil && d.Status.AvailableReplicas == 1
	}
	for !available() {
		if ctx.Err() != nil {
			t.Fatal("the Deployment never became available")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Three grace periods (12 s each): a node without a heartbeat is
	// NotReady after one, and its pods with it.
	until := time.Now().Add(40 * time.Second)
	for time.Now().Before(until) {
		n, err := cs.CoreV1().Nodes().Get(ctx, "kwok-node-0", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
				t.Fatalf("node kwok-node-0 turned %s: %s", c.Status, c.Message)
			}
		}
		if !available() {
			t.Fatal("the Deployment's pod stopped being available")
		}
		time.Sleep(2 * time.Second)
	}
}
