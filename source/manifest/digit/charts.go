package digit

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Instance is one deployable name of the charts dir: a chart (named after its
// directory) or an alias instance (<alias>-values.yaml beside a chart's
// values.yaml).
type Instance struct {
	// Name is the instance name: the release name and the `name` value.
	Name string
	// Dir is the chart directory (absolute).
	Dir string
	// AliasValues is the <alias>-values.yaml file (absolute) whose values go
	// on top of the environment file; empty for a chart's own instance unless
	// the chart dir holds a <chart>-values.yaml, which the deployer also read.
	AliasValues string
	// NoChartYAML says the directory has a values.yaml but no Chart.yaml.
	NoChartYAML bool
}

// ChartIndex maps instance names to instances. A name found twice is kept in
// Dups; it is only an error when a selected service uses it (the Go deployer
// warned and took the last one found).
type ChartIndex struct {
	// Instances by name.
	Instances map[string]Instance
	// Dups lists, for each name found more than once, every directory that
	// defines it.
	Dups map[string][]string
}

// IndexCharts walks chartsDir and indexes every chart and alias instance in
// it. Subcharts (a charts/ directory inside a chart) and hidden directories
// are skipped; symbolic links are not followed.
func IndexCharts(ctx context.Context, chartsDir string) (*ChartIndex, error) {
	idx := &ChartIndex{Instances: map[string]Instance{}, Dups: map[string][]string{}}
	add := func(in Instance) {
		if prev, ok := idx.Instances[in.Name]; ok {
			if len(idx.Dups[in.Name]) == 0 {
				idx.Dups[in.Name] = []string{prev.Dir}
			}
			idx.Dups[in.Name] = append(idx.Dups[in.Name], in.Dir)
			return
		}
		idx.Instances[in.Name] = in
	}
	err := filepath.WalkDir(chartsDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if path != chartsDir && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if d.Name() == "charts" && path != chartsDir && isFile(filepath.Join(filepath.Dir(path), "Chart.yaml")) {
			return filepath.SkipDir // subcharts of the parent chart
		}
		if !isFile(filepath.Join(path, "values.yaml")) {
			return nil
		}
		chartName := filepath.Base(path)
		noChart := !isFile(filepath.Join(path, "Chart.yaml"))
		own := Instance{Name: chartName, Dir: path, NoChartYAML: noChart}
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		var aliases []Instance
		for _, e := range entries {
			n := e.Name()
			if e.IsDir() || !strings.HasSuffix(n, "-values.yaml") {
				continue
			}
			alias := strings.TrimSuffix(n, "-values.yaml")
			if alias == "" {
				continue
			}
			file := filepath.Join(path, n)
			if alias == chartName {
				own.AliasValues = file
				continue
			}
			aliases = append(aliases, Instance{Name: alias, Dir: path, AliasValues: file, NoChartYAML: noChart})
		}
		add(own)
		sort.Slice(aliases, func(i, j int) bool { return aliases[i].Name < aliases[j].Name })
		for _, a := range aliases {
			add(a)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return idx, nil
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}
