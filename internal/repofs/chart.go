package repofs

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/digitops/digitops/internal/yamldepth"
	"github.com/digitops/digitops/internal/yamlnode"
)

// chartYAML are the files of a chart that Helm's loader parses as YAML.
var chartYAML = map[string]bool{
	"Chart.yaml":        true,
	"values.yaml":       true,
	"requirements.yaml": true,
	"Chart.lock":        true,
	"requirements.lock": true,
}

// maxArchiveRead bounds what is decompressed of a .tgz in charts/ to find
// its Chart.yaml (Helm's own cap on a chart is 100 MiB).
const maxArchiveRead = 100 << 20

// checkChartYAML refuses the chart YAML file at path (name in errors) when
// it nests deeper than yamldepth.Max; other files pass. The file is a
// regular file under the size cap (checkFile).
func (r *Root) checkChartYAML(name, path string) error {
	if !chartYAML[filepath.Base(name)] {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return &Error{File: r.name(name), Msg: err.Error()}
	}
	return r.checkYAML(name, data)
}

func (r *Root) checkYAML(name string, data []byte) error {
	var de *yamldepth.Error
	if err := yamldepth.Check(data, yamldepth.Max); errors.As(err, &de) {
		return &Error{File: r.name(name), Line: de.Line, Msg: de.Msg()}
	}
	return nil
}

// dependency is one entry of a chart's dependencies.
type dependency struct {
	name, repository string
	// line is its line in file.
	line int
	file string
}

// checkDependencies refuses the chart in dir (resolved, checked by
// checkTree) when a dependency on a chart repository (anything but
// file://, which digitops resolves itself) is not a chart of charts/:
// `helm template` refuses such a chart, Helm's loader drops the dependency
// without a word.
func (r *Root) checkDependencies(ctx context.Context, dir string) error {
	deps, err := r.dependencies(dir)
	if err != nil || len(deps) == 0 {
		return err
	}
	var have map[string]bool
	for _, d := range deps {
		if strings.HasPrefix(d.repository, "file://") {
			continue
		}
		if have == nil {
			if have, err = r.subcharts(ctx, filepath.Join(dir, "charts")); err != nil {
				return err
			}
		}
		if !have[d.name] {
			repo := d.repository
			if repo == "" {
				repo = "no repository"
			}
			return &Error{File: r.name(d.file), Line: d.line, Msg: fmt.Sprintf("dependency %q (%s) is not in %s: run helm dependency build and commit what it writes there (helm template refuses the chart)", d.name, redactURL(repo), r.name(filepath.Join(dir, "charts")))}
		}
	}
	return nil
}

// redactURL drops the credentials of a URL.
func redactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	if at := strings.LastIndex(strings.SplitN(rest, "/", 2)[0], "@"); at >= 0 {
		rest = rest[at+1:]
	}
	return scheme + "://" + rest
}

// dependencies reads the dependencies of the chart in dir as Helm's loader
// does: Chart.yaml's, replaced by requirements.yaml's when it lists some.
func (r *Root) dependencies(dir string) ([]dependency, error) {
	var deps []dependency
	for _, f := range []string{"Chart.yaml", "requirements.yaml"} {
		path := filepath.Join(dir, f)
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, &Error{File: r.name(path), Msg: err.Error()}
		}
		list, ok := parseDependencies(data, path)
		if ok {
			deps = list
		}
	}
	return deps, nil
}

// parseDependencies reads the dependencies: list of a Chart.yaml or
// requirements.yaml (checked by checkChartYAML). ok is false when the file
// has no such list; a file that does not parse has none either (Helm's
// loader then names the fault).
func parseDependencies(data []byte, file string) (deps []dependency, ok bool) {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return nil, false
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, false
	}
	list := yamlnode.Value(root, "dependencies")
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil, false
	}
	for _, n := range list.Content {
		var d struct {
			Name       string `yaml:"name"`
			Repository string `yaml:"repository"`
		}
		if n.Decode(&d) != nil || d.Name == "" {
			continue
		}
		deps = append(deps, dependency{name: d.Name, repository: d.Repository, line: n.Line, file: file})
	}
	return deps, true
}

// subcharts returns the names of the charts in dir (a chart's charts/), as
// Helm's loader finds them: directories and .tgz archives, not those whose
// name starts with _ or a dot. dir was checked by checkTree.
func (r *Root) subcharts(ctx context.Context, dir string) (map[string]bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, &Error{File: r.name(dir), Msg: err.Error()}
	}
	names := map[string]bool{}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := e.Name()
		if strings.IndexAny(n, "_.") == 0 {
			continue
		}
		path := filepath.Join(dir, n)
		var data []byte
		if filepath.Ext(n) == ".tgz" {
			data, err = archiveChartYAML(path)
		} else {
			data, err = os.ReadFile(filepath.Join(path, "Chart.yaml"))
		}
		if err != nil {
			// Not a chart: Helm's loader names the fault.
			continue
		}
		if err := r.checkYAML(filepath.Join(path, "Chart.yaml"), data); err != nil {
			return nil, err
		}
		var meta struct {
			Name string `yaml:"name"`
		}
		if yaml.Unmarshal(data, &meta) == nil && meta.Name != "" {
			names[meta.Name] = true
		}
	}
	return names, nil
}

// archiveChartYAML returns the Chart.yaml at the top of the chart archive
// at path (TOP/Chart.yaml), read under the size cap of Helm's loader.
func archiveChartYAML(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	defer gz.Close()
	tr := tar.NewReader(io.LimitReader(gz, maxArchiveRead))
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, err
		}
		parts := strings.Split(strings.TrimPrefix(filepath.ToSlash(h.Name), "./"), "/")
		if len(parts) == 2 && parts[1] == "Chart.yaml" && h.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(io.LimitReader(tr, 1<<20+1))
			if err != nil {
				return nil, err
			}
			if len(data) > 1<<20 {
				return nil, errors.New("Chart.yaml is over 1 MiB")
			}
			return data, nil
		}
	}
}
