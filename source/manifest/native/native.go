package native

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/digitops/digitops/source/manifest"
)

// Layout reads releases listed in digitops.yaml.
type Layout struct{}

var _ manifest.Layout = Layout{}

// Releases implements manifest.Layout.
func (Layout) Releases(ctx context.Context, in manifest.LayoutInput) ([]manifest.ReleaseSpec, error) {
	out := make([]manifest.ReleaseSpec, 0, len(in.Env.Releases))
	// Values files by path: a file several releases name is read once, and
	// its values are shared by them, never written (see
	// manifest.OverlayValues).
	files := map[string]map[string]any{}
	for _, r := range in.Env.Releases {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rs, err := release(ctx, in, r, files)
		if err != nil {
			return nil, err
		}
		out = append(out, rs)
	}
	return out, nil
}

func release(ctx context.Context, in manifest.LayoutInput, r manifest.NativeRelease, files map[string]map[string]any) (manifest.ReleaseSpec, error) {
	fail := func(line int, format string, args ...any) error {
		return &manifest.Error{File: in.ConfigFile, Line: line, Release: r.Name, Msg: fmt.Sprintf(format, args...)}
	}
	if r.Name == "" {
		return manifest.ReleaseSpec{}, fail(r.Line, "release without a name")
	}
	if err := manifest.CheckReleaseName(r.Name); err != nil {
		return manifest.ReleaseSpec{}, fail(r.Line, "%v", err)
	}
	ns := r.Namespace
	if ns == "" {
		ns = "default"
	}
	if err := manifest.CheckNamespace(ns); err != nil {
		return manifest.ReleaseSpec{}, fail(r.Line, "%v", err)
	}
	spec := manifest.ReleaseSpec{
		Name:      r.Name,
		Namespace: ns,
		Needs:     r.Needs,
		Labels:    r.Labels,
		Source:    in.ConfigFile,
	}
	switch {
	case r.Chart == "":
		return spec, fail(r.Line, "no chart: set chart to a directory in the repository")
	case r.Repo != "":
		spec.Chart = manifest.ChartRef{RepoURL: r.Repo, Name: r.Chart, Version: r.Version}
	default:
		dir, err := manifest.RepoPath(in.RepoDir, r.Chart)
		if err != nil {
			return spec, fail(r.Line, "chart: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "Chart.yaml")); err != nil {
			return spec, fail(r.Line, "chart %q does not exist (no %s)", r.Chart, filepath.Join(r.Chart, "Chart.yaml"))
		}
		spec.Chart = manifest.ChartRef{Path: dir}
	}
	vals, sources, err := values(ctx, in, r, files)
	if err != nil {
		return spec, err
	}
	spec.Values, spec.ValueSources = vals, sources
	return spec, nil
}

// values reads the values: field, which is a mapping (inline values), a
// string (a file) or a list of both, merged in order. files holds the
// values files read so far, by path; the result shares maps with them.
func values(ctx context.Context, in manifest.LayoutInput, r manifest.NativeRelease, files map[string]map[string]any) (map[string]any, []manifest.ValueSource, error) {
	n := &r.Values
	var items []*yaml.Node
	switch n.Kind {
	case 0:
		return map[string]any{}, nil, nil
	case yaml.SequenceNode:
		items = n.Content
	default:
		items = []*yaml.Node{n}
	}
	out := map[string]any{}
	var sources []manifest.ValueSource
	for _, item := range items {
		switch {
		case item.Kind == yaml.MappingNode:
			v, err := manifest.NodeValues(item, in.ConfigFile)
			if err != nil {
				if e, ok := err.(*manifest.Error); ok {
					if e.Release == "" {
						e.Release = r.Name
					}
					if e.Line == 0 {
						e.Line = item.Line
					}
				}
				return nil, nil, err
			}
			out = manifest.OverlayValues(out, v)
			sources = append(sources, manifest.ValueSource{File: in.ConfigFile, Values: v})
		case item.Kind == yaml.ScalarNode && item.Tag == "!!str":
			path, err := manifest.RepoPath(in.RepoDir, item.Value)
			if err != nil {
				return nil, nil, &manifest.Error{File: in.ConfigFile, Line: item.Line, Release: r.Name, Msg: "values: " + err.Error()}
			}
			v, ok := files[path]
			if !ok {
				if v, err = manifest.ReadValuesFile(ctx, in.Files, path, item.Value); err != nil {
					if e, ok := err.(*manifest.Error); ok && e.Release == "" {
						e.Release = r.Name
					}
					return nil, nil, err
				}
				files[path] = v
			}
			out = manifest.OverlayValues(out, v)
			sources = append(sources, manifest.ValueSource{File: item.Value, Values: v})
		default:
			return nil, nil, &manifest.Error{File: in.ConfigFile, Line: item.Line, Release: r.Name, Msg: "values: want a mapping, a file name, or a list of them"}
		}
	}
	return out, sources, nil
}
