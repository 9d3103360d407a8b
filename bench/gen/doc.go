// Package gen writes DIGIT-shaped environment repositories for the
// benchmarks: N services on a `common` library chart, an environment file
// keyed by service name, a product release chart with modules and their
// dependencies, and the same desired state again as a helmfile, with a
// digitops.yaml that names both.
//
// # What a generated repository holds
//
//	digitops.yaml                                  environments "bench" (digit) and "bench-helmfile" (helmfile)
//	deploy-as-code/helm/charts/common/             library chart: Deployment, Service, Ingress, ConfigMap
//	deploy-as-code/helm/charts/<module>/<service>/ one chart per service, depending on common (file://)
//	deploy-as-code/helm/environments/bench.yaml    global + one section per service
//	deploy-as-code/helmfile.yaml                   the helmfile layout of the same releases
//	config-as-code/product-release-charts/BENCH/release-chart.yaml
//
// Every release gets, as DIGIT's Go deployer gives it, the whole environment
// file plus name=<service>, image.tag and initContainers.dbMigration.image.tag;
// the helmfile says the same with values and set, so both layouts load to the
// same values, and every tool renders the same objects.
//
// Like DIGIT's common chart, the Deployment's pod template carries a
// deployment-timestamp annotation, `{{ date "20060102150405" .Release.Time }}`,
// that changes with every render in another second, unless
// [Options.DisableAnnotationTimestamp] is set. Tools that re-render and
// re-apply on every sync roll every Deployment because of it.
//
// # Modules
//
// The first tenth of the services (at least one) form module "core"; the
// rest are split into business modules of six. Business module k depends on
// core when k is a multiple of three, else on module k-1, so the dependency
// graph is already transitively reduced and the helmfile's needs (every
// release of a module needs every release of the modules it depends on) are
// exactly those the digit layout derives.
//
// Generation is deterministic: the same options write the same bytes.
package gen
