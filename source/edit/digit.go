package edit

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/digit"
)

// editReleaseChart sets repo/NAME:TAG and repo/NAME-db:TAG in the release
// chart.
func editReleaseChart(r *reader, repoDir string, ec manifest.EnvironmentConfig, images []Image) ([]*File, error) {
	if ec.ReleaseChart == "" {
		return nil, fmt.Errorf("environment %q has no releaseChart: set-image writes tags there", ec.Name)
	}
	path, err := manifest.RepoPath(repoDir, ec.ReleaseChart)
	if err != nil {
		return nil, err
	}
	f, err := r.read(path)
	if err != nil {
		return nil, err
	}
	want := map[string]string{}
	for _, t := range images {
		want[t.Name] = t.Tag
		want[t.Name+"-db"] = t.Tag
	}
	found := map[string]bool{}
	known := map[string]bool{}
	modules := lookup(f.root, "modules")
	if modules == nil || modules.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("%s: no modules: list", ec.ReleaseChart)
	}
	for _, m := range modules.Content {
		services := lookup(m, "services")
		if services == nil {
			continue
		}
		for _, sn := range services.Content {
			svc, err := digit.ParseService(sn.Value)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %w", ec.ReleaseChart, sn.Line, err)
			}
			known[strings.TrimSuffix(svc.Name, "-db")] = true
			tag, ok := want[svc.Name]
			if !ok {
				continue
			}
			found[strings.TrimSuffix(svc.Name, "-db")] = true
			image := sn.Value
			if svc.Tag != "" {
				image = strings.TrimSuffix(image, ":"+svc.Tag)
			}
			if err := f.setScalar(sn, image+":"+tag); err != nil {
				return nil, err
			}
		}
	}
	var missing []string
	for _, t := range images {
		if !found[t.Name] {
			missing = append(missing, t.Name)
		}
	}
	if len(missing) > 0 {
		return nil, unknownNames(missing, ec.ReleaseChart, keys(known))
	}
	return []*File{f}, nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
