package reconciler_test

import (
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/kube"
)

func TestManifestObjects(t *testing.T) {
	manifest := `---
# Source: egov-user/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: egov-user
---
# Source: egov-user/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: egov-user
  namespace: other
---
# Source: egov-user/templates/empty.yaml
# only a comment
---
# Source: egov-user/templates/crb.yaml
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: egov-user
`
	got, err := kube.ManifestObjects(manifest, "egov")
	if err != nil {
		t.Fatal(err)
	}
	want := []kube.ObjectRef{
		{APIVersion: "v1", Kind: "Service", Namespace: "egov", Name: "egov-user"},
		{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "other", Name: "egov-user"},
		// Cluster-scoped objects get the namespace too; it is dropped when
		// the object is read.
		{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding", Namespace: "egov", Name: "egov-user"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("objects =\n%v\nwant\n%v", got, want)
	}
	if _, err := kube.ManifestObjects("---\nkind: [\n", "egov"); err == nil {
		t.Error("a broken manifest parsed without error")
	}
}

func TestDeploymentReadiness(t *testing.T) {
	// dep is a Deployment of 2 replicas at generation 2, observed and fully
	// rolled out; each case breaks one thing.
	dep := func(change func(d *appsv1.Deployment)) *appsv1.Deployment {
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Generation: 2},
			Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](2)},
			Status:     appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2},
		}
		if change != nil {
			change(d)
		}
		return d
	}
	tests := []struct {
		name string
		// d is the Deployment as read.
		d *appsv1.Deployment
		// want is the expected readiness (Message as a substring).
		want reconciler.Readiness
	}{
		{"rolled out", dep(nil), reconciler.Readiness{Ready: true}},
		{"new generation not observed", dep(func(d *appsv1.Deployment) { d.Generation = 3 }), reconciler.Readiness{Message: "generation 3 not yet observed"}},
		{"not all updated", dep(func(d *appsv1.Deployment) { d.Status.UpdatedReplicas = 1 }), reconciler.Readiness{Message: "1 of 2 replicas updated"}},
		{"old replicas left", dep(func(d *appsv1.Deployment) { d.Status.Replicas = 3 }), reconciler.Readiness{Message: "1 old replicas pending termination"}},
		{"not all available", dep(func(d *appsv1.Deployment) { d.Status.AvailableReplicas = 0 }), reconciler.Readiness{Message: "0 of 2 replicas available"}},
		{"replicas unset means one", dep(func(d *appsv1.Deployment) {
			d.Spec.Replicas = nil
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1}
		}), reconciler.Readiness{Ready: true}},
		{"scaled to zero", dep(func(d *appsv1.Deployment) {
			d.Spec.Replicas = ptr.To[int32](0)
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: 2}
		}), reconciler.Readiness{Ready: true}},
		{"paused", dep(func(d *appsv1.Deployment) { d.Spec.Paused, d.Status.AvailableReplicas = true, 0 }), reconciler.Readiness{Ready: true}},
		{"progress deadline exceeded", dep(func(d *appsv1.Deployment) {
			d.Status.AvailableReplicas = 0
			d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: "ReplicaSet has timed out"}}
		}), reconciler.Readiness{Failed: true, Message: "progress deadline exceeded: ReplicaSet has timed out"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertReadiness(t, reconciler.DeploymentReadiness(tt.d), tt.want)
		})
	}
}

func TestStatefulSetReadiness(t *testing.T) {
	sts := func(change func(s *appsv1.StatefulSet)) *appsv1.StatefulSet {
		s := &appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Generation: 1},
			Spec:       appsv1.StatefulSetSpec{Replicas: ptr.To[int32](3)},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 1, Replicas: 3, ReadyReplicas: 3, UpdatedReplicas: 3,
				CurrentRevision: "r1", UpdateRevision: "r1"},
		}
		if change != nil {
			change(s)
		}
		return s
	}
	tests := []struct {
		name string
		// s is the StatefulSet as read.
		s *appsv1.StatefulSet
		// want is the expected readiness (Message as a substring).
		want reconciler.Readiness
	}{
		{"rolled out", sts(nil), reconciler.Readiness{Ready: true}},
		{"not observed", sts(func(s *appsv1.StatefulSet) { s.Generation = 2 }), reconciler.Readiness{Message: "generation 2 not yet observed"}},
		{"not all ready", sts(func(s *appsv1.StatefulSet) { s.Status.ReadyReplicas = 2 }), reconciler.Readiness{Message: "2 of 3 replicas ready"}},
		{"rolling update in progress", sts(func(s *appsv1.StatefulSet) { s.Status.UpdateRevision = "r2" }), reconciler.Readiness{Message: "rolling update to r2"}},
		{"partition: only the updated part counts", sts(func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](2)}
			s.Status.UpdatedReplicas, s.Status.UpdateRevision = 1, "r2"
		}), reconciler.Readiness{Ready: true}},
		{"on-delete waits for its replicas (DIGIT's kafka at 0/3, claims unbound)", sts(func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.Type = appsv1.OnDeleteStatefulSetStrategyType
			s.Status.ReadyReplicas = 0
		}), reconciler.Readiness{Message: "0 of 3 replicas ready"}},
		{"on-delete does not wait for an update the pods' deletion makes", sts(func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.Type = appsv1.OnDeleteStatefulSetStrategyType
			s.Status.UpdatedReplicas, s.Status.UpdateRevision = 0, "r2"
		}), reconciler.Readiness{Ready: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertReadiness(t, reconciler.StatefulSetReadiness(tt.s), tt.want)
		})
	}
}

func TestDaemonSetReadiness(t *testing.T) {
	ds := func(change func(d *appsv1.DaemonSet)) *appsv1.DaemonSet {
		d := &appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Generation: 1},
			Status:     appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 2, UpdatedNumberScheduled: 2, NumberAvailable: 2},
		}
		if change != nil {
			change(d)
		}
		return d
	}
	tests := []struct {
		name string
		// d is the DaemonSet as read.
		d *appsv1.DaemonSet
		// want is the expected readiness (Message as a substring).
		want reconciler.Readiness
	}{
		{"rolled out", ds(nil), reconciler.Readiness{Ready: true}},
		{"not observed", ds(func(d *appsv1.DaemonSet) { d.Generation = 2 }), reconciler.Readiness{Message: "generation 2 not yet observed"}},
		{"not all updated", ds(func(d *appsv1.DaemonSet) { d.Status.UpdatedNumberScheduled = 1 }), reconciler.Readiness{Message: "1 of 2 pods updated"}},
		{"not all available", ds(func(d *appsv1.DaemonSet) { d.Status.NumberAvailable = 0 }), reconciler.Readiness{Message: "0 of 2 pods available"}},
		{"on-delete waits for its pods", ds(func(d *appsv1.DaemonSet) {
			d.Spec.UpdateStrategy.Type = appsv1.OnDeleteDaemonSetStrategyType
			d.Status.NumberAvailable = 1
		}), reconciler.Readiness{Message: "1 of 2 pods available"}},
		{"on-delete does not wait for an update", ds(func(d *appsv1.DaemonSet) {
			d.Spec.UpdateStrategy.Type = appsv1.OnDeleteDaemonSetStrategyType
			d.Status.UpdatedNumberScheduled = 0
		}), reconciler.Readiness{Ready: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertReadiness(t, reconciler.DaemonSetReadiness(tt.d), tt.want)
		})
	}
}

func TestJobReadiness(t *testing.T) {
	cond := func(typ batchv1.JobConditionType, msg string) []batchv1.JobCondition {
		return []batchv1.JobCondition{{Type: typ, Status: corev1.ConditionTrue, Message: msg}}
	}
	tests := []struct {
		name string
		// j is the Job as read.
		j *batchv1.Job
		// want is the expected readiness (Message as a substring).
		want reconciler.Readiness
	}{
		{"complete", &batchv1.Job{Status: batchv1.JobStatus{Succeeded: 1, Conditions: cond(batchv1.JobComplete, "")}}, reconciler.Readiness{Ready: true}},
		{"running is not ready", &batchv1.Job{Status: batchv1.JobStatus{Active: 1}}, reconciler.Readiness{Message: "0 of 1 completions"}},
		{"completions counted", &batchv1.Job{Spec: batchv1.JobSpec{Completions: ptr.To[int32](3)}, Status: batchv1.JobStatus{Succeeded: 2}}, reconciler.Readiness{Message: "2 of 3 completions"}},
		{"failed", &batchv1.Job{Status: batchv1.JobStatus{Conditions: cond(batchv1.JobFailed, "BackoffLimitExceeded")}}, reconciler.Readiness{Failed: true, Message: "job failed: BackoffLimitExceeded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertReadiness(t, reconciler.JobReadiness(tt.j), tt.want)
		})
	}
}

func assertReadiness(t *testing.T, got, want reconciler.Readiness) {
	t.Helper()
	if got.Ready != want.Ready || got.Failed != want.Failed || !strings.Contains(got.Message, want.Message) {
		t.Errorf("readiness = %+v, want %+v", got, want)
	}
}

func TestRequests(t *testing.T) {
	before := kube.Requests{"GET": 3, "PATCH": 1}
	after := kube.Requests{"GET": 7, "PATCH": 1, "POST": 2, "DELETE": 1}
	d := after.Since(before)
	if want := (kube.Requests{"GET": 4, "POST": 2, "DELETE": 1}); !reflect.DeepEqual(d, want) {
		t.Errorf("since = %v, want %v", d, want)
	}
	if d.Writes() != 3 || d.Total() != 7 {
		t.Errorf("writes = %d, total = %d, want 3 and 7", d.Writes(), d.Total())
	}
	if got := d.String(); got != "DELETE=1 GET=4 POST=2" {
		t.Errorf("string = %q", got)
	}
}

func TestComputedReadiness(t *testing.T) {
	// obj decodes as the API's JSON does (integers as int64).
	obj := func(y string) *unstructured.Unstructured {
		objs, err := kube.Objects(y)
		if err != nil || len(objs) != 1 {
			t.Fatalf("%q: %v", y, err)
		}
		return objs[0]
	}
	tests := []struct {
		name string
		// y is the object as read.
		y string
		// want is the expected readiness (Message as a substring).
		want reconciler.Readiness
	}{
		{"a custom resource whose controller writes no status", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, generation: 1}\n", reconciler.Readiness{Ready: true}},
		{"a Certificate Ready", "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c, generation: 2}\nstatus: {observedGeneration: 2, conditions: [{type: Ready, status: \"True\"}]}\n", reconciler.Readiness{Ready: true}},
		{"a Certificate not Ready yet", "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c, generation: 2}\nstatus: {observedGeneration: 2, conditions: [{type: Ready, status: \"False\", message: issuing}]}\n", reconciler.Readiness{Message: "inprogress"}},
		{"a resource whose new generation is not observed", "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c, generation: 3}\nstatus: {observedGeneration: 2, conditions: [{type: Ready, status: \"True\"}]}\n", reconciler.Readiness{Message: "inprogress"}},
		{"a stalled resource has failed", "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, generation: 1}\nstatus: {observedGeneration: 1, conditions: [{type: Stalled, status: \"True\", message: bad spec}]}\n", reconciler.Readiness{Failed: true, Message: "bad spec"}},
		{"a PVC not bound", "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nstatus: {phase: Pending}\n", reconciler.Readiness{Message: "inprogress"}},
		{"a PVC bound", "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nstatus: {phase: Bound}\n", reconciler.Readiness{Ready: true}},
		{"a LoadBalancer Service with its cluster IP (no external address needed)", "apiVersion: v1\nkind: Service\nmetadata: {name: ingress-nginx}\nspec: {type: LoadBalancer, clusterIP: 10.0.0.1}\n", reconciler.Readiness{Ready: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertReadiness(t, reconciler.ComputedReadiness(obj(tt.y)), tt.want)
		})
	}
}
