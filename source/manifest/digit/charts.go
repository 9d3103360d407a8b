package digit

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Instance is one deployable name of the charts dir: a chart (named after its
// directory, which holds a values.yaml) or a name given by a
// <name>-values.yaml file in a chart's directory.
type Instance struct {
	// Name is the instance name: the release name and the `name` value.
	Name string
	// Dir is the chart directory (absolute).
	Dir string
	// AliasValues is <Dir>/<Name>-values.yaml (absolute) when it exists:
	// the deployer passes it with -f after the environment file, for a
	// chart's own name as for any other.
	AliasValues string
	// NoChartYAML says the directory has no Chart.yaml (helm template
	// fails there: the release is in error).
	NoChartYAML bool
}

// ChartIndex maps instance names to instances, as the Go deployer's index
// maps them.
type ChartIndex struct {
	// Instances by name.
	Instances map[string]Instance
	// Dups lists, for each name found in more than one directory, every
	// directory that defines it in the order walked; the instance kept is
	// the last one, as the deployer keeps it.
	Dups map[string][]string
}

// IndexCharts walks chartsDir as the DIGIT Go deployer does (in lexical
// order, into every directory, subcharts included, not following symbolic
// links): a file named values.yaml makes its directory a chart named after
// the directory, and a file named <name>-values.yaml makes its directory the
// chart of <name>. A name found again in another directory replaces the
// first one (the deployer's "Duplicate service found"; the last one walked
// wins) and is kept in Dups for a warning. Hidden directories (.git, ...)
// are skipped.
func IndexCharts(ctx context.Context, chartsDir string) (*ChartIndex, error) {
	idx := &ChartIndex{Instances: map[string]Instance{}, Dups: map[string][]string{}}
	add := func(name, dir string) {
		prev, ok := idx.Instances[name]
		if ok && prev.Dir == dir {
			return
		}
		if ok {
			if len(idx.Dups[name]) == 0 {
				idx.Dups[name] = []string{prev.Dir}
			}
			idx.Dups[name] = append(idx.Dups[name], dir)
		}
		idx.Instances[name] = Instance{Name: name, Dir: dir}
	}
	err := filepath.WalkDir(chartsDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if path != chartsDir && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		switch n := d.Name(); {
		case n == "values.yaml":
			add(filepath.Base(filepath.Dir(path)), filepath.Dir(path))
		case strings.HasSuffix(n, "-values.yaml") && n != "-values.yaml":
			add(strings.TrimSuffix(n, "-values.yaml"), filepath.Dir(path))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for name, in := range idx.Instances {
		if f := filepath.Join(in.Dir, name+"-values.yaml"); isFile(f) {
			in.AliasValues = f
		}
		in.NoChartYAML = !isFile(filepath.Join(in.Dir, "Chart.yaml"))
		idx.Instances[name] = in
	}
	return idx, nil
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}
