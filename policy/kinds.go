package policy

// ClusterScopedKind tells whether a built-in kind of Kubernetes 1.37 is
// cluster-scoped, for when no cluster can be asked: known is false for a
// kind it does not know (a custom resource).
func ClusterScopedKind(group, kind string) (scoped, known bool) {
	scoped, known = builtin[groupKind{group, kind}]
	return scoped, known
}

type groupKind struct{ group, kind string }

// builtin are the scopes of Kubernetes' own kinds (k8s.io/api v0.37, its
// +genclient:nonNamespaced types; apiextensions and kube-aggregator for
// CustomResourceDefinition and APIService), and of the common namespaced
// ones.
var builtin = func() map[groupKind]bool {
	m := map[groupKind]bool{}
	add := func(scoped bool, group string, kinds ...string) {
		for _, k := range kinds {
			m[groupKind{group, k}] = scoped
		}
	}
	// Cluster-scoped.
	add(true, "", "Namespace", "Node", "PersistentVolume", "ComponentStatus")
	add(true, "rbac.authorization.k8s.io", "ClusterRole", "ClusterRoleBinding")
	add(true, "storage.k8s.io", "StorageClass", "CSIDriver", "CSINode", "VolumeAttachment", "VolumeAttributesClass")
	add(true, "apiextensions.k8s.io", "CustomResourceDefinition")
	add(true, "apiregistration.k8s.io", "APIService")
	add(true, "scheduling.k8s.io", "PriorityClass")
	add(true, "node.k8s.io", "RuntimeClass")
	add(true, "networking.k8s.io", "IngressClass", "IPAddress", "ServiceCIDR")
	add(true, "admissionregistration.k8s.io",
		"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
		"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
		"MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding")
	add(true, "flowcontrol.apiserver.k8s.io", "FlowSchema", "PriorityLevelConfiguration")
	add(true, "certificates.k8s.io", "CertificateSigningRequest", "ClusterTrustBundle")
	add(true, "resource.k8s.io", "DeviceClass", "ResourceSlice", "DeviceTaintRule", "ResourcePoolStatusRequest")
	add(true, "internal.apiserver.k8s.io", "StorageVersion")
	add(true, "storagemigration.k8s.io", "StorageVersionMigration")
	add(true, "authentication.k8s.io", "TokenReview", "SelfSubjectReview")
	add(true, "authorization.k8s.io", "SubjectAccessReview", "SelfSubjectAccessReview", "SelfSubjectRulesReview")
	// Namespaced.
	add(false, "", "Pod", "Service", "ConfigMap", "Secret", "ServiceAccount", "PersistentVolumeClaim",
		"Endpoints", "LimitRange", "ResourceQuota", "Event")
	add(false, "apps", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet")
	add(false, "batch", "Job", "CronJob")
	add(false, "networking.k8s.io", "Ingress", "NetworkPolicy")
	add(false, "rbac.authorization.k8s.io", "Role", "RoleBinding")
	add(false, "autoscaling", "HorizontalPodAutoscaler")
	add(false, "policy", "PodDisruptionBudget")
	add(false, "discovery.k8s.io", "EndpointSlice")
	add(false, "coordination.k8s.io", "Lease")
	add(false, "events.k8s.io", "Event")
	return m
}()
