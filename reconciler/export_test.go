package reconciler

import (
	"log/slog"

	"helm.sh/helm/v3/pkg/action"

	"github.com/digitops/digitops/reconciler/kube"
)

// ActionConfigForTest exposes the Helm action configuration to tests.
func ActionConfigForTest(c *kube.Cluster, namespace string) *action.Configuration {
	return c.ActionConfig(namespace, slog.New(slog.DiscardHandler))
}
