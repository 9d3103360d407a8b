package reconciler

import (
	"log/slog"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"

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

// ClockShiftedForTest exposes clockShifted.
func ClockShiftedForTest(c *chart.Chart, values map[string]any) (*chart.Chart, bool) {
	return clockShifted(c, values)
}

// NondeterministicPathsForTest exposes nondeterministicPaths.
func NondeterministicPathsForTest(a, b, namespace string) []string {
	return nondeterministicPaths(a, b, namespace)
}
