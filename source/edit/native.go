package edit

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/digitops/digitops/source/manifest"
)

// editNative sets image.tag in the values of native releases.
func editNative(r *reader, configPath string, ec manifest.EnvironmentConfig, images []Image) ([]*File, error) {
	cfgFile, err := r.read(configPath)
	if err != nil {
		return nil, err
	}
	var releases *yaml.Node
	if envs := lookup(cfgFile.root, "environments"); envs != nil {
		for _, e := range envs.Content {
			if n := lookup(e, "name"); n != nil && n.Value == ec.Name {
				releases = lookup(e, "releases")
			}
		}
	}
	if releases == nil {
		return nil, fmt.Errorf("environment %q has no releases: list in %s", ec.Name, configPath)
	}
	repoDir := filepath.Dir(configPath)
	byPath := map[string]*File{configPath: cfgFile}
	var known, missing []string
	for _, t := range images {
		var rel *yaml.Node
		for _, rn := range releases.Content {
			if n := lookup(rn, "name"); n != nil {
				if n.Value == t.Name {
					rel = rn
				}
				if len(known) < len(releases.Content) {
					known = append(known, n.Value)
				}
			}
		}
		if rel == nil {
			missing = append(missing, t.Name)
			continue
		}
		if err := setNativeTag(r, repoDir, byPath, cfgFile, rel, t); err != nil {
			return nil, err
		}
	}
	if len(missing) > 0 {
		return nil, unknownNames(missing, configPath, known)
	}
	var out []*File
	for _, f := range byPath {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// setNativeTag edits the last values item of rel that sets image.tag, else
// adds image.tag to its last inline values mapping.
func setNativeTag(r *reader, repoDir string, byPath map[string]*File, cfgFile *File, rel *yaml.Node, t Image) error {
	values := lookup(rel, "values")
	var items []*yaml.Node
	switch {
	case values == nil:
	case values.Kind == yaml.SequenceNode:
		items = values.Content
	default:
		items = []*yaml.Node{values}
	}
	type target struct {
		f *File
		m *yaml.Node
	}
	var targets []target
	for _, it := range items {
		switch {
		case it.Kind == yaml.MappingNode:
			targets = append(targets, target{cfgFile, it})
		case it.Kind == yaml.ScalarNode:
			path, err := manifest.RepoPath(repoDir, it.Value)
			if err != nil {
				return err
			}
			f, ok := byPath[path]
			if !ok {
				if f, err = r.read(path); err != nil {
					return err
				}
				byPath[path] = f
			}
			targets = append(targets, target{f, f.root})
		}
	}
	tag := tagPaths()[0]
	for i := len(targets) - 1; i >= 0; i-- {
		if lookup(targets[i].m, tag...) != nil {
			return setTags(targets[i].f, targets[i].m, t.Tag, false)
		}
	}
	for i := len(targets) - 1; i >= 0; i-- {
		if targets[i].f == cfgFile {
			return setTags(cfgFile, targets[i].m, t.Tag, true)
		}
	}
	return fmt.Errorf("release %q has no inline values and its values files set no %s: add `values: [{%s}]` to it in %s once", t.Name, strings.Join(tag, "."), flowOf(tag), cfgFile.Path)
}
