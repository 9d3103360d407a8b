// Package policy is the operator's bound on what an environment repository
// may deploy: which namespaces its releases go to, which cluster-scoped
// kinds they create, which clusters it targets and whether its charts may
// call Helm's lookup. The file belongs to the operator (digitops --policy
// FILE), not to the repository, so a pull request cannot widen it; what
// digitops.yaml and the charts ask for is checked against it.
//
// # The file
//
//	environments:
//	  "*":                                 # a name, or a glob (path.Match)
//	    namespaces: [egov, "digit-*"]      # namespaces (globs); "*" is any
//	    clusterScoped:                     # cluster-scoped kinds; "*" is any
//	      - Namespace                      # Kind: that kind in any group
//	      - ClusterRole.rbac.authorization.k8s.io   # Kind.group: that group only
//	    clusters:                          # clusters besides the operator's own
//	      - context: dev
//	      - kubeconfigSecret: {namespace: digitops, name: dev}
//	      - kubeconfig: /etc/digitops/uat.yaml
//	    lookup: false                      # whether charts may call lookup
//	  prod-*:
//	    namespaces: [egov]
//
// Parsing is strict: an unknown field, a bad glob, an empty entry, a
// cluster entry that sets nothing, a second YAML document or a file with
// no environments is an [*Error] naming the file and, where it can, the
// line. The file is at most 1 MiB and nests at most yamldepth.Max levels.
//
// # Which entry
//
// [Policy.For] picks the entry of an environment: the key equal to its
// name, else the longest glob that matches it (ties: the first in lexical
// order). No entry is an error: nothing of the environment is deployed. A
// nil *Policy is no policy, and its nil [*Rules] allow everything.
//
// # What the rules allow
//
// A field left out allows nothing beyond the default:
//
//   - namespaces: the release namespaces and the namespaces of namespaced
//     objects it allows; none when left out.
//   - clusterScoped: the cluster-scoped kinds a release may create; none
//     when left out. Kinds are compared exactly (case-sensitive); the core
//     group is "", so Namespace needs no group. A Namespace object needs
//     both rules: its kind in clusterScoped and its name in namespaces.
//   - clusters: an environment without a cluster block (the operator's own
//     cluster, from flags or in-cluster) is always allowed; any other must
//     match an entry. An entry matches when every field it sets equals the
//     environment's (kubeconfig compared after filepath.Clean; a
//     kubeconfigSecret's namespace and name always, its key when the entry
//     sets one) and both name the same kubeconfig: an entry without
//     kubeconfig or kubeconfigSecret (context: dev) matches only the
//     operator's kubeconfig, not a context of that name in another file.
//   - lookup: false when left out.
//
// Each [Rules] method returns nil when allowed, else a [*RefusedError] that
// names what was refused, the rule and the file, on one line:
//
//	Namespace "kube-system" is not allowed: policy /etc/digitops/policy.yaml, environments["*"].namespaces allows egov, digit-*
//	ClusterRoleBinding/admin-all is not allowed: policy /etc/digitops/policy.yaml, environments["*"].clusterScoped allows Namespace
//
// The policy checks what digitops renders and applies; it does not replace
// the RBAC of digitops's own ServiceAccount, which stays the hard limit.
// [ClusterScopedKind] tells the scope of Kubernetes' built-in kinds when no
// cluster can be asked.
package policy
