package digit

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"helm.sh/helm/v3/pkg/strvals"

	"github.com/digitops/digitops/internal/repofs"
	"github.com/digitops/digitops/source/manifest"
)

// ClusterConfigsChart is the chart that `clusterConfigs: true` deploys first
// and the only one that gets the secrets file.
const ClusterConfigsChart = "cluster-configs"

// DefaultNamespace is the release namespace when neither the environment
// file, the chart nor digitops.yaml names one: where DIGIT runs its services.
const DefaultNamespace = "egov"

// ModuleLabel is the label that carries a release's module (cluster-configs
// for the cluster-configs release), for selectors.
const ModuleLabel = "module"

// Layout reads the DIGIT Go deployer's layout. See the package documentation.
type Layout struct{}

var _ manifest.Layout = Layout{}

// planned is one release to build: an instance of the charts dir and the
// service entry (if any) that asked for it.
type planned struct {
	inst    Instance
	module  string
	service *Service // nil for cluster-configs
	// err, when set, is why the release cannot be built (no chart, not a
	// chart, not a valid release name): it is planned as an error.
	err error
}

// Releases implements manifest.Layout.
func (Layout) Releases(ctx context.Context, in manifest.LayoutInput) ([]manifest.ReleaseSpec, error) {
	env := in.Env
	cfgErr := func(format string, args ...any) error {
		return &manifest.Error{File: in.ConfigFile, Line: env.Line, Msg: fmt.Sprintf("environment %q: ", env.Name) + fmt.Sprintf(format, args...)}
	}
	repoPath := func(field, rel string, dir bool) (string, error) {
		if rel == "" {
			return "", cfgErr("the digit layout needs %s", field)
		}
		p, err := manifest.RepoPath(in.RepoDir, rel)
		if err != nil {
			return "", cfgErr("%s: %v", field, err)
		}
		st, err := os.Stat(p)
		if err != nil || st.IsDir() != dir {
			kind := "file"
			if dir {
				kind = "directory"
			}
			return "", cfgErr("%s: %q is not a %s in the repository", field, rel, kind)
		}
		return p, nil
	}
	chartsDir, err := repoPath("chartsDir", env.ChartsDir, true)
	if err != nil {
		return nil, err
	}
	envPath, err := repoPath("envFile", env.EnvFile, false)
	if err != nil {
		return nil, err
	}
	var rc *ReleaseChart
	if env.ReleaseChart != "" || !env.ClusterConfigs {
		rcPath, err := repoPath("releaseChart", env.ReleaseChart, false)
		if err != nil {
			return nil, err
		}
		if rc, err = ReadReleaseChart(ctx, in.Files, rcPath, env.ReleaseChart); err != nil {
			return nil, err
		}
	}
	if rc == nil && len(env.Modules) > 0 {
		return nil, cfgErr("modules are chosen from a releaseChart, and none is set")
	}
	envVals, err := manifest.ReadValuesFile(ctx, in.Files, envPath, env.EnvFile)
	if err != nil {
		return nil, err
	}
	idx, err := IndexCharts(ctx, chartsDir)
	if err != nil {
		return nil, cfgErr("chartsDir: %v", err)
	}

	if rc != nil {
		for _, w := range rc.Warnings {
			in.Warning(w)
		}
	}
	plan, order, err := planReleases(in, rc, idx)
	if err != nil {
		return nil, err
	}
	needs := releaseNeeds(order, plan)

	b := builder{in: in, envVals: envVals, aliasVals: map[string]map[string]any{}}
	out := make([]manifest.ReleaseSpec, 0, len(plan))
	for _, p := range plan {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		spec := b.failed(p)
		if p.err == nil {
			spec, err = b.release(ctx, p)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				spec = b.failed(p)
				spec.Err = err
			}
		}
		spec.Needs = needs[p.inst.Name]
		out = append(out, spec)
	}
	return out, nil
}

// ReadReleaseChart reads and parses the release chart at path; name is its
// repository-relative name.
func ReadReleaseChart(ctx context.Context, files *repofs.Root, path, name string) (*ReleaseChart, error) {
	data, err := manifest.ReadRepoFile(ctx, files, path, name, "release chart")
	if err != nil {
		return nil, err
	}
	return ParseReleaseChart(data, name)
}

// planReleases resolves the selected modules' services to instances of the
// charts dir, cluster-configs first. A service that cannot be deployed (no
// chart, not a chart) is planned with its error, so that the others still
// are; a name the charts dir defines twice and a service listed twice with
// different tags are warnings, resolved as the Go deployer resolves them.
func planReleases(in manifest.LayoutInput, rc *ReleaseChart, idx *ChartIndex) ([]planned, []*Module, error) {
	var plan []planned
	warnedDup := map[string]bool{}
	if in.Env.ClusterConfigs {
		inst, ok := idx.Instances[ClusterConfigsChart]
		if !ok {
			return nil, nil, &manifest.Error{File: in.ConfigFile, Line: in.Env.Line, Msg: fmt.Sprintf("environment %q: clusterConfigs is true but %s has no %s chart", in.Env.Name, in.Env.ChartsDir, ClusterConfigsChart)}
		}
		err := checkInstance(in, idx, inst, in.ConfigFile, in.Env.Line, warnedDup)
		plan = append(plan, planned{inst: inst, module: ClusterConfigsChart, err: err})
	}
	if rc == nil {
		return plan, nil, nil
	}
	order, unknown, cycles := OrderModules(rc, in.Env.Modules)
	for _, w := range cycles {
		in.Warning(w)
	}
	if len(unknown) > 0 {
		return nil, nil, unknownModulesError(in.ConfigFile, in.Env.Line, unknown, rc)
	}
	at := map[string]int{} // instance name -> index in plan
	for i, p := range plan {
		at[p.inst.Name] = i
	}
	// Which of two tags of a service the deployer leaves running: the one
	// of the module it deploys last.
	roots := in.Env.Modules
	if len(roots) == 0 {
		roots = rc.defaultModules()
	}
	rank := map[string]int{}
	for i, name := range rc.DeployerOrder(roots) {
		rank[name] = i
	}
	chosenIn := map[int]string{} // index in plan -> module of its service
	for _, m := range order {
		for i := range m.Services {
			s := &m.Services[i]
			inst, err := resolve(in, idx, rc, s, warnedDup)
			if j, dup := at[inst.Name]; dup {
				prev := plan[j].service
				switch {
				case prev == nil:
					// cluster-configs listed as a service too: it is
					// already deployed first, as clusterConfigs asks.
				case prev.Tag == "":
					plan[j].service, chosenIn[j] = s, m.Name
				case s.Tag != "" && s.Tag != prev.Tag:
					// The deployer deploys both: the tag of the module
					// it deploys last is what it leaves running.
					kept, keptIn := prev, chosenIn[j]
					if rank[m.Name] >= rank[chosenIn[j]] {
						kept, keptIn = s, m.Name
					}
					in.Warning(manifest.Warning{File: rc.File, Line: s.Line, Release: inst.Name,
						Msg: fmt.Sprintf("listed twice with different tags: %s on line %d and %s on line %d; %s is deployed, as the Go deployer leaves it (it deploys module %s last)", prev.Ref, prev.Line, s.Ref, s.Line, kept.Ref, keptIn)})
					plan[j].service, chosenIn[j] = kept, keptIn
				}
				continue
			}
			chosenIn[len(plan)] = m.Name
			at[inst.Name] = len(plan)
			plan = append(plan, planned{inst: inst, module: m.Name, service: s, err: err})
		}
	}
	return plan, order, nil
}

// resolve maps a service to its instance, as the deployer does: the chart
// or instance named like the image, with a -db suffix (the database
// migration image) dropped. A service without one gets an Instance named
// after it (and the default namespace) and an error.
func resolve(in manifest.LayoutInput, idx *ChartIndex, rc *ReleaseChart, s *Service, warnedDup map[string]bool) (Instance, error) {
	name := s.Name
	inst, ok := idx.Instances[name]
	if !ok && strings.HasSuffix(name, "-db") {
		name = strings.TrimSuffix(name, "-db")
		inst, ok = idx.Instances[name]
	}
	if !ok {
		return Instance{Name: name}, &manifest.Error{File: rc.File, Line: s.Line, Release: name, Msg: fmt.Sprintf("service %s: no chart under %s has a values.yaml or %s-values.yaml (the Go deployer stops here: \"Service chart not found\")", s.Ref, in.Env.ChartsDir, name)}
	}
	return inst, checkInstance(in, idx, inst, rc.File, s.Line, warnedDup)
}

// checkInstance returns why inst cannot be deployed, if it cannot, and
// warns (once per name) when the charts dir defines its name twice.
func checkInstance(in manifest.LayoutInput, idx *ChartIndex, inst Instance, file string, line int, warnedDup map[string]bool) error {
	fail := func(format string, args ...any) error {
		return &manifest.Error{File: file, Line: line, Release: inst.Name, Msg: fmt.Sprintf(format, args...)}
	}
	if dirs := idx.Dups[inst.Name]; len(dirs) > 0 && !warnedDup[inst.Name] {
		warnedDup[inst.Name] = true
		rels := make([]string, len(dirs))
		for i, d := range dirs {
			rels[i] = relTo(in.RepoDir, d)
		}
		in.Warning(manifest.Warning{File: file, Line: line, Release: inst.Name,
			Msg: fmt.Sprintf("the charts dir defines the name more than once (%s); the last one is used, as the Go deployer uses it", strings.Join(rels, ", "))})
	}
	if inst.NoChartYAML {
		return fail("%s has no Chart.yaml (helm template fails there)", relTo(in.RepoDir, inst.Dir))
	}
	if err := manifest.CheckReleaseName(inst.Name); err != nil {
		return fail("%v", err)
	}
	return nil
}

// releaseNeeds derives the releases' needs from module dependencies (see
// moduleNeeds); a release that needs nothing else needs cluster-configs when
// it is deployed, so that everything comes after it.
func releaseNeeds(order []*Module, plan []planned) map[string][]string {
	byModule := map[string][]string{}
	hasCC := false
	for _, p := range plan {
		if p.service == nil {
			hasCC = true
			continue
		}
		byModule[p.module] = append(byModule[p.module], p.inst.Name)
	}
	has := map[string]bool{}
	for m, rs := range byModule {
		has[m] = len(rs) > 0
	}
	mneeds := moduleNeeds(order, has)
	out := map[string][]string{}
	for _, p := range plan {
		if p.service == nil {
			continue
		}
		var needs []string
		for _, dm := range mneeds[p.module] {
			needs = append(needs, byModule[dm]...)
		}
		if len(needs) == 0 && hasCC && p.inst.Name != ClusterConfigsChart {
			needs = []string{ClusterConfigsChart}
		}
		out[p.inst.Name] = needs
	}
	return out
}

// builder builds the ReleaseSpecs, reading each values file once.
type builder struct {
	in        manifest.LayoutInput
	envVals   map[string]any
	aliasVals map[string]map[string]any
	secrets   *secretsFile
}

type secretsFile struct {
	values  map[string]any
	strings []string
}

// failed is the spec of a release that cannot be built: its name, where it
// was declared, its module, the namespace it would most likely get and
// p.err.
func (b *builder) failed(p planned) manifest.ReleaseSpec {
	spec := manifest.ReleaseSpec{
		Name:      p.inst.Name,
		Namespace: b.defaultNamespace(),
		Labels:    map[string]string{ModuleLabel: p.module},
		Source:    b.in.ConfigFile,
		Err:       p.err,
	}
	if p.service != nil {
		spec.Source = b.in.Env.ReleaseChart
	}
	if sec, ok := b.envVals[p.inst.Name].(map[string]any); ok {
		if ns, ok := sec["namespace"].(string); ok && ns != "" {
			spec.Namespace = ns
		}
	}
	return spec
}

func (b *builder) release(ctx context.Context, p planned) (manifest.ReleaseSpec, error) {
	in := b.in
	spec := manifest.ReleaseSpec{
		Name:   p.inst.Name,
		Chart:  manifest.ChartRef{Path: p.inst.Dir},
		Labels: map[string]string{ModuleLabel: p.module},
		Source: in.ConfigFile,
	}
	if p.service != nil {
		spec.Source = in.Env.ReleaseChart
	}
	// -f <env file>: the whole file, as the deployer passes it. Every
	// release shares it (see manifest.OverlayValues): the files below go
	// on top without writing into it, and each --set first detaches the
	// top-level subtree it writes under.
	var layers []map[string]any
	sources := []manifest.ValueSource{{File: in.Env.EnvFile, Values: b.envVals}}
	// -f <secrets file>: only for cluster-configs, as the deployer does.
	if p.inst.Name == ClusterConfigsChart && in.Env.SecretsFile != "" {
		sec, err := b.readSecrets(ctx)
		if err != nil {
			return spec, err
		}
		layers = append(layers, sec.values)
		sources = append(sources, manifest.ValueSource{File: in.Env.SecretsFile, Values: sec.values})
		spec.SecretValues = sec.strings
	}
	// -f <alias>-values.yaml.
	if p.inst.AliasValues != "" {
		av, err := b.alias(ctx, p.inst.AliasValues)
		if err != nil {
			return spec, err
		}
		layers = append(layers, av)
		sources = append(sources, manifest.ValueSource{File: relTo(b.in.RepoDir, p.inst.AliasValues), Values: av})
	}
	// --set name=<instance>, --set image.tag=<tag>,
	// --set initContainers.dbMigration.image.tag=<tag>: parsed by Helm's own
	// --set parser so that the values are typed exactly as Helm types them.
	// The values are kept as this recipe and merged on each read
	// (manifest.LazyValues): merged, each release would hold its own copy
	// of the environment file's top level.
	lazy := &manifest.LazyValues{Base: b.envVals, Layers: layers}
	setVals := map[string]any{}
	set := func(key, value string) {
		lazy.Sets = append(lazy.Sets, key+"="+value)
		_ = strvals.ParseInto(key+"="+value, setVals)
	}
	if p.service != nil {
		set("name", p.inst.Name)
		if p.service.Tag != "" {
			for _, path := range TagPaths() {
				set(path, p.service.Tag)
			}
			spec.Images = []string{p.service.Ref}
		} else {
			spec.KeepLiveImageTag = true
		}
	}
	vals, err := lazy.Build()
	if err != nil {
		return spec, &manifest.Error{File: spec.Source, Release: spec.Name, Msg: err.Error()}
	}
	if len(setVals) > 0 {
		sources = append(sources, manifest.ValueSource{File: spec.Source, Values: setVals})
	}
	spec.Lazy = lazy
	spec.ValueSources = sources
	ns, err := b.namespace(ctx, p, vals)
	if err != nil {
		return spec, err
	}
	spec.Namespace = ns
	return spec, nil
}

// namespace is what the chart's templates render as .Values.namespace (the
// common chart merges the values under the instance's name over the top
// level), else the chart's own default, else digitops.yaml's namespace, else
// DefaultNamespace.
func (b *builder) namespace(ctx context.Context, p planned, vals map[string]any) (string, error) {
	pick := func(m map[string]any, file string) (string, error) {
		v, ok := m["namespace"]
		if !ok || v == nil {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", &manifest.Error{File: file, Release: p.inst.Name, Msg: fmt.Sprintf("namespace: want a string, got %v", v)}
		}
		return s, nil
	}
	if sec, ok := vals[p.inst.Name].(map[string]any); ok {
		if ns, err := pick(sec, b.in.Env.EnvFile); ns != "" || err != nil {
			return ns, err
		}
	}
	if ns, err := pick(vals, b.in.Env.EnvFile); ns != "" || err != nil {
		return ns, err
	}
	chartValues := filepath.Join(p.inst.Dir, "values.yaml")
	if !isFile(chartValues) {
		// Found by its <name>-values.yaml alone: no chart default.
		return b.defaultNamespace(), nil
	}
	cv, err := manifest.ReadValuesFile(ctx, b.in.Files, chartValues, relTo(b.in.RepoDir, chartValues))
	if err != nil {
		return "", err
	}
	if ns, err := pick(cv, relTo(b.in.RepoDir, chartValues)); ns != "" || err != nil {
		return ns, err
	}
	return b.defaultNamespace(), nil
}

// defaultNamespace is digitops.yaml's namespace, else DefaultNamespace.
func (b *builder) defaultNamespace() string {
	if b.in.Env.Namespace != "" {
		return b.in.Env.Namespace
	}
	return DefaultNamespace
}

func (b *builder) alias(ctx context.Context, path string) (map[string]any, error) {
	if v, ok := b.aliasVals[path]; ok {
		return v, nil
	}
	v, err := manifest.ReadValuesFile(ctx, b.in.Files, path, relTo(b.in.RepoDir, path))
	if err != nil {
		return nil, err
	}
	b.aliasVals[path] = v
	return v, nil
}

func (b *builder) readSecrets(ctx context.Context) (*secretsFile, error) {
	if b.secrets != nil {
		return b.secrets, nil
	}
	in := b.in
	path, err := manifest.RepoPath(in.RepoDir, in.Env.SecretsFile)
	if err != nil {
		return nil, &manifest.Error{File: in.ConfigFile, Line: in.Env.Line, Msg: "secretsFile: " + err.Error()}
	}
	var sf secretsFile
	if in.Decrypter != nil {
		sf.values, sf.strings, err = in.Decrypter.DecryptValues(ctx, path, in.Env.SecretsFile, in.Secrets)
	} else {
		sf.values, sf.strings, err = readPlainSecrets(ctx, in.Files, path, in.Env.SecretsFile)
	}
	if err != nil {
		return nil, err
	}
	b.secrets = &sf
	return b.secrets, nil
}

// readPlainSecrets reads a plain secrets file when no Decrypter is set.
func readPlainSecrets(ctx context.Context, files *repofs.Root, path, name string) (map[string]any, []string, error) {
	v, err := manifest.ReadValuesFile(ctx, files, path, name)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := v["sops"]; ok {
		return nil, nil, &manifest.Error{File: name, Msg: "the file is SOPS-encrypted but this build reads plain secrets only (no decrypter)"}
	}
	return v, manifest.StringLeaves(v), nil
}

// relTo returns path relative to the repository, for messages.
func relTo(repo, path string) string {
	if r, err := filepath.Rel(repo, path); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return path
}
