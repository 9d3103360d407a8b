// Package deploy holds digitops's own deployment: the Helm chart in
// helm/digitops (RBAC, leader election, probes, graceful shutdown), the
// Grafana dashboard (grafana/, the chart's files/dashboard.json) and the
// PrometheusRule with the drift and sync-failure alerts (prometheus/, the
// chart's files/rules.yaml). The package has no Go code besides the tests
// that render the chart and check every metric the dashboard and the
// alerts use against the metrics package.
//
// Install:
//
//	helm install digitops deploy/helm/digitops -n digitops-system --create-namespace \
//	  --set source.repo=https://github.com/egovernments/DIGIT-DevOps --set source.ref=master
package deploy
