// Package digit reads the layout of eGov DIGIT's Go deployer
// (DIGIT-DevOps, "Deployment Using Golang") into releases, without any
// change to the repository.
//
// # Inputs
//
// The environment's entry in digitops.yaml names four things, all relative
// to the repository root:
//
//	chartsDir:    deploy-as-code/helm/charts
//	envFile:      deploy-as-code/helm/environments/egov-demo.yaml
//	secretsFile:  deploy-as-code/helm/environments/egov-demo-secrets.yaml  # plain or SOPS
//	releaseChart: config-as-code/product-release-charts/DIGIT/dependancy_chart-digit-v2.9.2.yaml
//	modules:      [m_pgr]     # optional: these modules and all they depend on
//	                          # (default: every m_* module, as the installer offers)
//	clusterConfigs: true      # deploy the cluster-configs chart first
//	namespace:    egov        # optional: release namespace of last resort
//
// # Charts
//
// The charts are indexed as the Go deployer indexes them (IndexCharts):
// walking chartsDir in lexical order (subcharts included; hidden directories
// and symbolic links to directories are not followed), a directory holding a
// values.yaml is a chart named after the directory, and every file
// <name>-values.yaml names a chart <name> in its directory, also where the
// directory has no values.yaml. A name found twice is the last one walked,
// as the deployer leaves it, with a warning naming both paths. A chart
// directory without a Chart.yaml makes its release an error (helm template
// fails there).
//
// # Release chart and services
//
// The product release chart lists modules:
//
//	modules:
//	  - name: core
//	    dependencies: [backbone]
//	    services: [egovio/egov-user:v2.9.2-4a60f20, redis]
//
// Each service is an image reference ([registry/]repo/name[:tag]) or a bare
// chart name. It is deployed with the chart or alias instance named like the
// last path segment of the image name; an image named <chart>-db (a
// database-migration image, as older release charts list them) resolves to
// <chart> when no chart is called <chart>-db, and is merged with <chart>'s
// entry. A service listed twice with two different tags keeps the tag the
// deployer leaves running: that of the module it deploys last (see
// ReleaseChart.DeployerOrder), with a warning naming both lines. The
// release is named after the instance.
//
// A tag sets both image.tag and initContainers.dbMigration.image.tag. A
// service without a tag sets no tag: the release is marked KeepLiveImageTag,
// and the reconciler reuses the tag of the live release when there is one,
// else the chart's default applies (the Go deployer read the tag from the
// cluster the same way). ReleaseSpec.Images lists the reference when it sets
// a tag.
//
// # Values
//
// ReleaseSpec.Values holds what the deployer passed on Helm's command line,
// merged as Helm merges it; Helm coalesces the chart's own values.yaml under
// them when it renders:
//
//  1. the whole environment file (-f envFile);
//  2. for cluster-configs only, the secrets file: the deployer passed it to
//     no other chart (in DIGIT the cluster-configs chart renders every
//     Secret and services read them with secretKeyRef); its string values
//     are listed in SecretValues for masking;
//  3. the instance's <name>-values.yaml, if any (-f);
//  4. name=<instance> for every service (not for cluster-configs), and the
//     two tags, parsed with Helm's --set parser so they are typed as Helm
//     types them.
//
// # Namespace
//
// The release namespace is what DIGIT's common chart renders as
// .Values.namespace: the envFile's <instance>.namespace, else a top-level
// namespace in the user values, else the namespace in the chart's
// values.yaml, else digitops.yaml's namespace, else "egov" (DefaultNamespace),
// where DIGIT runs its services; the Go deployer left it to kubectl's
// current namespace.
//
// # Modules, order and needs
//
// The selected modules (when modules is empty, every module named m_*, the
// ones the deployer's installer offers, or all modules when none is) and
// every module they depend on, transitively, are deployed. Modules are put in a true
// topological order (the old deployer's order was not one). A dependency
// cycle is broken as the deployer breaks it (the edge that closes it is
// dropped), and a dependency on a module that does not exist is ignored as
// the deployer ignores it; both are warnings with the release chart's file
// and line.
//
// Needs are derived from module dependencies: every release of module X
// needs every release of the nearest modules X depends on, after a
// transitive reduction (if m_pgr depends on core and frontend, and frontend
// already depends on core, m_pgr's releases need frontend's only) and
// looking through modules without releases. With clusterConfigs, every
// release that needs nothing else needs cluster-configs, so cluster-configs
// comes first and everything else (transitively) after it. The label
// "module" carries each release's module for selectors.
//
// # Errors
//
// Errors name the file and line. The environment fails to load on what
// concerns all of it: YAML syntax of the release chart or the environment
// file, a selected module that does not exist, a bad image reference, a
// missing cluster-configs chart. A release is in error on its own (the rest
// still plans; see ReleaseSpec.Err) for a service without a chart, a chart
// directory without a Chart.yaml, an invalid release name, values that do
// not parse, or a secrets file that cannot be read or decrypted.
package digit
