// Package kube is digitops's connection to one cluster: the clients it
// shares between all releases of that cluster ([Cluster]: typed, metadata,
// dynamic, cached discovery and REST mapping, and the Helm action
// configuration over them), the count of API requests they make, the
// cluster's capabilities for rendering, and the reads of Helm's release
// storage (the live releases from their Secrets' labels alone, a revision's
// manifest without decoding the whole release).
//
// It also owns how digitops names a Kubernetes object, "Kind/namespace/name"
// ("Kind/name" when cluster-scoped, see [Ref]), and the one splitter of a
// rendered manifest into objects ([Documents], [Objects]).
//
// It knows nothing of plans or environments: the reconciler builds on it,
// never the other way round.
package kube
