package edit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/digitops/digitops/internal/repofs"
	"github.com/digitops/digitops/source/manifest"
)

// editHelmfile sets NAME.image.tag in the environment values file: file
// (relative to repoDir), else the one found by the first image's name.
func editHelmfile(r *reader, repoDir, file string, ec manifest.EnvironmentConfig, images []Image) ([]*File, error) {
	var f *File
	var err error
	if file != "" {
		path, err := manifest.RepoPath(repoDir, file)
		if err != nil {
			return nil, err
		}
		if f, err = r.read(path); err != nil {
			return nil, err
		}
	} else if f, err = findEnvValuesFile(r, repoDir, ec, images[0].Name); err != nil {
		return nil, err
	}
	var missing, known []string
	for i := 0; i+1 < len(f.root.Content); i += 2 {
		known = append(known, f.root.Content[i].Value)
	}
	for _, t := range images {
		m := lookup(f.root, t.Name)
		if m == nil || m.Kind != yaml.MappingNode {
			missing = append(missing, t.Name)
			continue
		}
		if err := setTags(f, m, t.Tag, true); err != nil {
			return nil, err
		}
	}
	if len(missing) > 0 {
		return nil, unknownNames(missing, f.Path, known)
	}
	return []*File{f}, nil
}

// findEnvValuesFile finds the one values file under an environments
// directory beside the helmfile that has a top-level key name. A file that
// does not parse is skipped; one the repository may not make digitops read
// (over the size cap, not a regular file, a link out) is an error.
func findEnvValuesFile(r *reader, repoDir string, ec manifest.EnvironmentConfig, name string) (*File, error) {
	helmfile, err := manifest.RepoPath(repoDir, ec.Helmfile)
	if err != nil {
		return nil, err
	}
	var found []*File
	err = filepath.WalkDir(filepath.Dir(helmfile), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(filepath.Dir(path)) != "environments" || strings.Contains(d.Name(), "secret") {
			return err
		}
		if ext := filepath.Ext(path); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		f, err := r.read(path)
		var refused *repofs.Error
		if errors.As(err, &refused) {
			return err
		}
		if err == nil && lookup(f.root, name) != nil {
			found = append(found, f)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("no environments/*.yaml beside %s has a %q key: pass --file with the environment values file", ec.Helmfile, name)
	}
	return nil, fmt.Errorf("%d environment values files have a %q key: pass --file to pick one", len(found), name)
}
