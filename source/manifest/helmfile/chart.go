package helmfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/digitops/digitops/source/manifest"
)

// chart resolves a release's chart the way helmfile does:
//
//   - oci://host/path/name: a chart in an OCI registry;
//   - ./x, ../x, /x: a chart directory, relative to the helmfile;
//   - repo/name, where repo is in repositories: (of this helmfile or one
//     that includes it): a chart of that repository;
//   - anything else: a chart directory relative to the helmfile.
//
// A local chart must be a directory with a Chart.yaml inside the
// repository; its version: is not checked (helm ignores it too).
func (l *loader) chart(st *state, r *rawRelease) (manifest.ChartRef, error) {
	fail := func(format string, args ...any) error {
		return &manifest.Error{File: st.name, Line: r.line, Release: r.name, Msg: fmt.Sprintf(format, args...)}
	}
	c := r.chart
	switch {
	case c == "":
		return manifest.ChartRef{}, fail("no chart: set chart: to a directory or to <repository>/<chart>")
	case strings.HasPrefix(c, "oci://"):
		i := strings.LastIndex(c, "/")
		if i <= len("oci://") {
			return manifest.ChartRef{}, fail("chart %q: want oci://<registry>/<path>/<chart>", c)
		}
		return manifest.ChartRef{RepoURL: c[:i], Name: c[i+1:], Version: r.version}, nil
	case strings.Contains(c, "://") || strings.Contains(c, "::"):
		return manifest.ChartRef{}, fail("unsupported helmfile feature: chart %q is a URL; declare its repository in repositories: and use <repository>/<chart>", c)
	}
	explicit := c == "." || c == ".." || strings.HasPrefix(c, "./") || strings.HasPrefix(c, "../") || filepath.IsAbs(c)
	if !explicit {
		if repo, name, ok := strings.Cut(c, "/"); ok {
			if url, ok := l.repository(st, repo); ok {
				if name == "" || strings.Contains(name, "/") {
					return manifest.ChartRef{}, fail("chart %q: want <repository>/<chart>", c)
				}
				return manifest.ChartRef{RepoURL: url, Name: name, Version: r.version}, nil
			}
		}
	}
	dir, err := l.resolvePath(st, c)
	if err != nil {
		return manifest.ChartRef{}, fail("chart: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err != nil {
		hint := "a local chart must be a directory of the repository with a Chart.yaml"
		if !explicit {
			hint = "it is neither a chart directory nor <repository>/<chart> of a repository in repositories:"
		}
		return manifest.ChartRef{}, fail("chart %q does not exist: no %s in the repository (%s)", c, l.rel(filepath.Join(dir, "Chart.yaml")), hint)
	}
	return manifest.ChartRef{Path: dir}, nil
}

// repository finds a repository by name in st or the helmfiles including it.
func (l *loader) repository(st *state, name string) (string, bool) {
	if url, ok := st.repositories[name]; ok {
		return url, true
	}
	for i := len(l.stack) - 1; i >= 0; i-- {
		if url, ok := l.stack[i].repositories[name]; ok {
			return url, true
		}
	}
	return "", false
}
