package reconciler

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/digitops/digitops/internal/repofs"
	"github.com/digitops/digitops/source/manifest"
)

// ChartSource resolves a ChartRef into a loaded chart with its dependencies.
type ChartSource interface {
	Load(ctx context.Context, ref manifest.ChartRef) (*chart.Chart, error)
}

// RemoteCharts fetches remote charts into a local path helm's loader reads.
type RemoteCharts interface {
	Pull(ctx context.Context, ref manifest.ChartRef) (string, error)
}

// LocalCharts loads charts from directories, resolving `file://`
// dependencies in memory: nothing is written into the Git checkout.
type LocalCharts struct {
	// Remote fetches charts that have a RepoURL; nil refuses them.
	Remote RemoteCharts
}

var _ ChartSource = LocalCharts{}

// Load implements ChartSource.
func (l LocalCharts) Load(ctx context.Context, ref manifest.ChartRef) (*chart.Chart, error) {
	if ref.Path == "" {
		if l.Remote == nil {
			return nil, fmt.Errorf("chart %s is remote, and this build has no chart repository client", ref)
		}
		path, err := l.Remote.Pull(ctx, ref)
		if err != nil {
			return nil, err
		}
		return loader.Load(path)
	}
	var root *repofs.Root
	if ref.Root != "" {
		r, err := repofs.New(ref.Root, 0)
		if err != nil {
			return nil, err
		}
		root = r
	}
	return loadDir(ctx, root, ref.Path, map[string]bool{})
}

// loadDir loads the chart in dir and, for each `file://` dependency that
// charts/ does not already hold, the chart it points to.
// With a root, every file of each chart folder must stay inside it (Helm's
// loader follows links, and a chart's .Files.Get returns any file it read).
func loadDir(ctx context.Context, root *repofs.Root, dir string, visiting map[string]bool) (*chart.Chart, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if visiting[dir] {
		return nil, fmt.Errorf("chart %s: file:// dependency cycle", dir)
	}
	visiting[dir] = true
	defer delete(visiting, dir)
	if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err != nil {
		return nil, fmt.Errorf("chart %s does not exist (no Chart.yaml)", dir)
	}
	if root != nil {
		if err := root.CheckTree(ctx, dir); err != nil {
			return nil, fmt.Errorf("chart %s: %w", dir, err)
		}
	}
	c, err := loader.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("unable to load chart %s: %w", dir, err)
	}
	have := map[string]bool{}
	for _, d := range c.Dependencies() {
		have[d.Name()] = true
	}
	for _, dep := range c.Metadata.Dependencies {
		if have[dep.Name] || !strings.HasPrefix(dep.Repository, "file://") {
			continue
		}
		depDir := filepath.Join(dir, strings.TrimPrefix(dep.Repository, "file://"))
		sub, err := loadDir(ctx, root, depDir, visiting)
		if err != nil {
			return nil, fmt.Errorf("chart %s: dependency %q: %w", dir, dep.Name, err)
		}
		if sub.Name() != dep.Name {
			return nil, fmt.Errorf("chart %s: dependency %q points at chart %q", dir, dep.Name, sub.Name())
		}
		c.AddDependency(sub)
		have[dep.Name] = true
	}
	return c, nil
}
