package reconciler

import (
	"log/slog"

	"helm.sh/helm/v3/pkg/action"
)

// ActionConfigForTest exposes the Helm action configuration to tests.
func ActionConfigForTest(c *Cluster, namespace string) *action.Configuration {
	return c.actionConfig(namespace, slog.New(slog.DiscardHandler))
}
