package digit

import (
	"errors"
	"fmt"
	"strings"

	"github.com/distribution/reference"
	"gopkg.in/yaml.v3"

	"github.com/digitops/digitops/source/manifest"
)

// ReleaseChart is a parsed product release chart
// (config-as-code/product-release-charts/<product>/dependancy_chart-*.yaml).
type ReleaseChart struct {
	// File is the chart's repository-relative name, for errors.
	File string
	// Version is the product version (the top-level version: key).
	Version string
	// Modules are the modules in the order the file declares them.
	Modules []Module
	// Warnings are what the file gets away with because the Go deployer
	// is lenient about it: a dependency on a module the file does not
	// declare.
	Warnings []manifest.Warning
}

// Module is one entry of the release chart's modules: list.
type Module struct {
	// Name is the module name (core, business, m_pgr, ...).
	Name string
	// Dependencies are the modules this module needs, as declared.
	Dependencies []Dependency
	// Services are the services the module deploys.
	Services []Service
	// Line is the line of the module in the release chart.
	Line int
}

// Dependency is one name of a module's dependencies: list.
type Dependency struct {
	// Name is the module depended on.
	Name string
	// Line is where the dependency is written.
	Line int
}

// Service is one entry of a module's services: list: an image reference such
// as egovio/pgr-services:v2.9.2 or a bare chart name such as redis.
type Service struct {
	// Ref is the reference as written.
	Ref string
	// Name is the last path segment of the image name: the chart (or alias
	// instance) the service is deployed with. A -db suffix (the database
	// migration image) is resolved later against the charts dir.
	Name string
	// Tag is the image tag, or empty when the reference has none.
	Tag string
	// Line is where the service is written.
	Line int
}

// TagPaths returns the values paths a service's tag sets, together and in
// this order: the service's image and its database migration image, as the
// Go deployer's --set flags write them. The layout sets them, set-image
// (source/edit) writes them, and a service listed without a tag keeps their
// live values (reconciler).
func TagPaths() []string {
	return []string{"image.tag", "initContainers.dbMigration.image.tag"}
}

// Module returns the named module, or false.
func (rc *ReleaseChart) Module(name string) (*Module, bool) {
	for i := range rc.Modules {
		if rc.Modules[i].Name == name {
			return &rc.Modules[i], true
		}
	}
	return nil, false
}

// ParseReleaseChart parses a product release chart; name is the file's
// repository-relative name in errors. It checks the shape of the file, that
// module names are unique, that every image reference parses and that every
// dependency names a module of the file (one that does not is a warning,
// as the deployer ignores it). Cycles are found by the layout when
// it orders the selected modules.
func ParseReleaseChart(data []byte, name string) (*ReleaseChart, error) {
	fail := func(line int, format string, args ...any) error {
		return &manifest.Error{File: name, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	if err := manifest.CheckYAML(data, name); err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// Reuse the manifest package's YAML error formatting (file:line).
		_, perr := manifest.ParseValues(data, name)
		if perr == nil {
			perr = fail(0, "invalid YAML: %v", err)
		}
		return nil, perr
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, fail(root.Line, "a release chart must be a mapping with a modules: list")
	}
	rc := &ReleaseChart{File: name}
	var modules *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "version":
			if v.Kind != yaml.ScalarNode {
				return nil, fail(v.Line, "version: want a string")
			}
			rc.Version = v.Value
		case "modules":
			modules = v
		}
		// Other top-level keys are ignored: release charts carry notes and
		// metadata that the deployer never read either.
	}
	if modules == nil || (modules.Kind == yaml.ScalarNode && modules.Tag == "!!null") {
		return nil, fail(root.Line, "no modules: the release chart needs a modules: list")
	}
	if modules.Kind != yaml.SequenceNode {
		return nil, fail(modules.Line, "modules: want a list")
	}
	seen := map[string]int{}
	var errs []error
	for _, mn := range modules.Content {
		m, err := parseModule(mn, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := seen[m.Name]; dup {
			errs = append(errs, fail(m.Line, "module %q is declared twice (first on line %d)", m.Name, prev))
			continue
		}
		seen[m.Name] = m.Line
		rc.Modules = append(rc.Modules, m)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, m := range rc.Modules {
		for _, d := range m.Dependencies {
			if _, ok := seen[d.Name]; !ok {
				rc.Warnings = append(rc.Warnings, manifest.Warning{File: name, Line: d.Line,
					Msg: fmt.Sprintf("module %q depends on unknown module %q (modules: %s); the dependency is ignored, as the Go deployer ignores it", m.Name, d.Name, strings.Join(rc.moduleNames(), ", "))})
			}
		}
	}
	return rc, nil
}

func (rc *ReleaseChart) moduleNames() []string {
	out := make([]string, len(rc.Modules))
	for i, m := range rc.Modules {
		out[i] = m.Name
	}
	return out
}

// defaultModules is what a deployment with no modules selected deploys:
// every module the Go deployer's installer offers (those named m_*, with
// what they depend on), or every module when none is named so.
func (rc *ReleaseChart) defaultModules() []string {
	var all, offered []string
	for _, m := range rc.Modules {
		all = append(all, m.Name)
		if strings.HasPrefix(m.Name, "m_") {
			offered = append(offered, m.Name)
		}
	}
	if len(offered) > 0 {
		return offered
	}
	return all
}

// DeployerOrder returns the modules in the order the Go deployer's
// installer deploys them when the roots are selected in that order: it
// pushes each selected module, then each of its dependencies (depth first,
// each module once), to the front of its list, so a module selected later
// is deployed earlier. Only which of two tags of a service the deployer
// leaves running depends on it; digitops deploys in dependency order.
func (rc *ReleaseChart) DeployerOrder(roots []string) []string {
	var front []string // reversed: the last pushed is the first deployed
	seen := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		m, ok := rc.Module(name)
		if !ok || seen[name] {
			return
		}
		seen[name] = true
		front = append(front, name)
		for _, d := range m.Dependencies {
			visit(d.Name)
		}
	}
	for _, r := range roots {
		visit(r)
	}
	out := make([]string, len(front))
	for i, name := range front {
		out[len(front)-1-i] = name
	}
	return out
}

func parseModule(n *yaml.Node, file string) (Module, error) {
	fail := func(line int, format string, args ...any) error {
		return &manifest.Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	if n.Kind != yaml.MappingNode {
		return Module{}, fail(n.Line, "module: want a mapping with name, dependencies and services")
	}
	m := Module{Line: n.Line}
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "name":
			if v.Kind != yaml.ScalarNode || v.Value == "" {
				return m, fail(v.Line, "module name: want a non-empty string")
			}
			m.Name = v.Value
		case "dependencies":
			items, err := scalarList(v, file, "dependencies")
			if err != nil {
				return m, err
			}
			for _, it := range items {
				m.Dependencies = append(m.Dependencies, Dependency{Name: it.Value, Line: it.Line})
			}
		case "services":
			items, err := scalarList(v, file, "services")
			if err != nil {
				return m, err
			}
			for _, it := range items {
				s, err := ParseService(it.Value)
				if err != nil {
					errs = append(errs, fail(it.Line, "%v", err))
					continue
				}
				s.Line = it.Line
				m.Services = append(m.Services, s)
			}
		}
	}
	if m.Name == "" {
		return m, fail(n.Line, "module without a name")
	}
	if len(errs) > 0 {
		return m, errors.Join(errs...)
	}
	return m, nil
}

// scalarList reads a list of non-empty scalars; a null value is an empty list.
func scalarList(n *yaml.Node, file, field string) ([]*yaml.Node, error) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, &manifest.Error{File: file, Line: n.Line, Msg: field + ": want a list"}
	}
	for _, it := range n.Content {
		if it.Kind != yaml.ScalarNode || strings.TrimSpace(it.Value) == "" {
			return nil, &manifest.Error{File: file, Line: it.Line, Msg: field + ": want a list of non-empty strings"}
		}
	}
	return n.Content, nil
}

// ParseService parses one services: entry: an image reference
// ([registry/]repo/name[:tag]) or a bare chart name. Digests are refused:
// DIGIT's charts render images as repository:tag.
func ParseService(ref string) (Service, error) {
	s := strings.TrimSpace(ref)
	r, err := reference.Parse(s)
	if err != nil {
		return Service{}, fmt.Errorf("bad image reference %q: %v", ref, err)
	}
	named, ok := r.(reference.Named)
	if !ok {
		return Service{}, fmt.Errorf("bad image reference %q: no image name", ref)
	}
	if _, ok := r.(reference.Digested); ok {
		return Service{}, fmt.Errorf("bad image reference %q: digests are not supported (DIGIT charts render repository:tag); use a tag", ref)
	}
	out := Service{Ref: s}
	path := reference.Path(named)
	out.Name = path[strings.LastIndex(path, "/")+1:]
	if t, ok := r.(reference.Tagged); ok {
		out.Tag = t.Tag()
	}
	return out, nil
}
