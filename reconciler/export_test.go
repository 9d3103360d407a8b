package reconciler

import (
	"log/slog"
	"testing"

	"helm.sh/helm/v3/pkg/action"

	"github.com/digitops/digitops/reconciler/kube"
)

// ActionConfigForTest exposes the Helm action configuration to tests.
func ActionConfigForTest(c *kube.Cluster, namespace string) *action.Configuration {
	return c.ActionConfig(namespace, slog.New(slog.DiscardHandler))
}

// CorpusQuickstartRepoForTest exposes corpusQuickstartRepo to the
// control-plane tests.
func CorpusQuickstartRepoForTest(t *testing.T, extra string) (repo, envFile string) {
	return corpusQuickstartRepo(t, extra), corpusQuickstartEnvFile
}
