package helmfile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/digitops/digitops/source/manifest"
)

// Layout reads the helmfile layout. The zero value is ready to use.
type Layout struct {
	// Logger receives warnings (missing files under missingFileHandler Warn,
	// keys that have no effect in digitops); nil means slog.Default().
	Logger *slog.Logger
}

var _ manifest.Layout = Layout{}

// maxNesting bounds helmfiles: nesting.
const maxNesting = 16

// loader holds one load.
type loader struct {
	in  manifest.LayoutInput
	log *slog.Logger
	// stack is the chain of helmfiles being read, for repositories and
	// cycle detection.
	stack []*state
	paths []string
	// releases are every release read, desired or not, in order.
	releases []*candidate
	// errs are release errors, reported together.
	errs []error
	// logged dedupes "no effect" messages.
	logged map[string]bool
	// plainFiles are the plain (not templated) values files read so far,
	// by absolute path: a file every release names is read once, and its
	// values are shared by every release, never written (see
	// manifest.OverlayValues).
	plainFiles map[string]map[string]any
}

// candidate is one release of some helmfile.
type candidate struct {
	spec      manifest.ReleaseSpec
	line      int
	file      string
	needs     []lineString
	namespace string
	// desired is false for installed: false and false conditions; selected
	// is false for releases the selectors filter out. Only releases that
	// are both become ReleaseSpecs.
	desired, selected bool
}

// Releases implements manifest.Layout.
func (lay Layout) Releases(ctx context.Context, in manifest.LayoutInput) ([]manifest.ReleaseSpec, error) {
	log := lay.Logger
	if log == nil {
		log = slog.Default()
	}
	if in.Env.Helmfile == "" {
		return nil, &manifest.Error{File: in.ConfigFile, Line: in.Env.Line, Msg: fmt.Sprintf("environment %q: the helmfile layout needs helmfile: (the root helmfile, relative to the repository)", in.Env.Name)}
	}
	root, err := manifest.RepoPath(in.RepoDir, in.Env.Helmfile)
	if err != nil {
		return nil, &manifest.Error{File: in.ConfigFile, Line: in.Env.Line, Msg: "helmfile: " + err.Error()}
	}
	sels, err := parseSelectors(in.Env.Selector)
	if err != nil {
		return nil, &manifest.Error{File: in.ConfigFile, Line: in.Env.Line, Msg: err.Error()}
	}
	envName := in.Env.HelmfileEnvironment
	if envName == "" {
		envName = defaultEnv
	}
	l := &loader{in: in, log: log.With("environment", in.Env.Name), logged: map[string]bool{}, plainFiles: map[string]map[string]any{}}
	if err := l.walk(ctx, root, newEnv(envName, map[string]any{}), sels); err != nil {
		return nil, err
	}
	if err := errors.Join(l.errs...); err != nil {
		return nil, err
	}
	return l.resolveNeeds()
}

// walk reads one helmfile: its sub-helmfiles first, in order, then its own
// releases, as helmfile does.
func (l *loader) walk(ctx context.Context, abs string, env *envState, sels []selector) error {
	if len(l.paths) >= maxNesting {
		return &manifest.Error{File: l.rel(abs), Msg: fmt.Sprintf("helmfiles: nested more than %d deep", maxNesting)}
	}
	for _, p := range l.paths {
		if p == abs {
			return &manifest.Error{File: l.rel(abs), Msg: "helmfiles: cycle: " + strings.Join(append(l.relAll(l.paths), l.rel(abs)), " -> ")}
		}
	}
	st, err := l.loadFile(ctx, abs, env)
	if err != nil {
		return err
	}
	if len(l.paths) == 0 && !st.envSeen && env.name != defaultEnv {
		return &manifest.Error{File: st.name, Msg: fmt.Sprintf("environment %q is not defined: this helmfile has no environments:", env.name)}
	}
	l.stack = append(l.stack, st)
	l.paths = append(l.paths, abs)
	defer func() {
		l.stack = l.stack[:len(l.stack)-1]
		l.paths = l.paths[:len(l.paths)-1]
	}()
	for _, h := range st.helmfiles {
		if err := l.subHelmfile(ctx, st, h, sels); err != nil {
			return err
		}
	}
	for _, n := range st.releases {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := l.release(ctx, st, n, sels); err != nil {
			var me *manifest.Error
			if !errors.As(err, &me) || me.Release == "" {
				return err
			}
			l.errs = append(l.errs, err)
		}
	}
	return nil
}

// subHelmfile reads one helmfiles: entry: a path (globs allowed) or
// {path, values, selectors, selectorsInherited}.
func (l *loader) subHelmfile(ctx context.Context, st *state, n *yaml.Node, sels []selector) error {
	fail := func(line int, format string, args ...any) error {
		return &manifest.Error{File: st.name, Line: line, Msg: "helmfiles: " + fmt.Sprintf(format, args...)}
	}
	var path string
	overrides := map[string]any{}
	childSels := sels
	if n.Kind == yaml.ScalarNode {
		path = n.Value
	} else {
		fs, err := fields(n)
		if err != nil {
			return fail(n.Line, "%v", err)
		}
		var explicit, inherited bool
		for _, f := range fs {
			switch f.key {
			case "path":
				path, err = str(f.val)
			case "values":
				overrides, err = l.valueEntries(ctx, st, f.val, handleError, "", lazy(st.env.data))
			case "selectors":
				explicit = true
				var ss []string
				if ss, err = strList(f.val); err == nil {
					childSels, err = parseSelectors(ss)
				}
			case "selectorsInherited":
				inherited, err = boolean(f.val)
			default:
				return fail(f.line, "unknown key %q (want path, values, selectors or selectorsInherited)", f.key)
			}
			if err != nil {
				var me *manifest.Error
				if errors.As(err, &me) {
					return err
				}
				return fail(f.line, "%s: %v", f.key, err)
			}
		}
		if explicit && inherited {
			return fail(n.Line, "selectors and selectorsInherited: true cannot be used together")
		}
		if inherited {
			childSels = sels
		}
	}
	if path == "" {
		return fail(n.Line, "an entry without a path")
	}
	if strings.Contains(path, "::") || strings.Contains(path, "://") {
		return fail(n.Line, "unsupported helmfile feature: remote helmfile %q (only files in the repository are read)", path)
	}
	paths, err := l.files(st, path)
	if err != nil {
		return fail(n.Line, "%v", err)
	}
	if len(paths) == 0 {
		// Never skip a missing sub-helmfile: its releases would look removed
		// and prune would uninstall them.
		return fail(n.Line, "%q does not exist (looked for %s)", path, l.rel(filepath.Join(st.dir, path)))
	}
	for _, p := range paths {
		if err := l.walk(ctx, p, newEnv(st.env.name, overrides), childSels); err != nil {
			return err
		}
	}
	return nil
}

// release reads one release of st into l.releases.
func (l *loader) release(ctx context.Context, st *state, n *yaml.Node, sels []selector) error {
	r, err := l.parseRelease(st, n)
	if err != nil {
		return err
	}
	if err := l.renderRelease(st, r); err != nil {
		return err
	}
	labels := map[string]string{}
	for k, v := range st.commonLabels {
		labels[k] = v
	}
	for k, v := range r.labels {
		labels[k] = v
	}
	ns := r.namespace
	if ns == "" {
		ns = l.in.Env.Namespace
	}
	if ns == "" {
		ns = "default"
	}
	desired, err := r.desired(st)
	if err != nil {
		return err
	}
	c := &candidate{
		line:      r.line,
		file:      st.name,
		needs:     r.needs,
		namespace: ns,
		desired:   desired,
		selected:  matchAny(sels, selectorLabels(labels, r.name, ns, r.chart)),
	}
	c.spec.Name = r.name
	l.releases = append(l.releases, c)
	if !c.desired || !c.selected {
		l.log.Debug("release not desired", "file", st.name, "release", r.name, "installed", c.desired, "selected", c.selected)
		return nil
	}
	if len(labels) == 0 {
		labels = nil
	}
	c.spec, err = l.spec(ctx, st, r, ns, labels)
	return err
}

// resolveNeeds turns needs ([kubecontext/][namespace/]name) into release
// names and returns the desired, selected releases in the order read. A
// need of a release that exists but is not desired (installed: false) or
// not selected is dropped, as helmfile does; a need of a release that no
// helmfile declares is an error.
func (l *loader) resolveNeeds() ([]manifest.ReleaseSpec, error) {
	byName := map[string][]*candidate{}
	for _, c := range l.releases {
		byName[c.spec.Name] = append(byName[c.spec.Name], c)
	}
	var out []manifest.ReleaseSpec
	var errs []error
	for _, c := range l.releases {
		if !c.desired || !c.selected {
			continue
		}
		spec := c.spec
		spec.Needs = nil
		seen := map[string]bool{}
		for _, nd := range c.needs {
			fail := func(format string, args ...any) {
				errs = append(errs, &manifest.Error{File: c.file, Line: nd.line, Release: spec.Name, Msg: fmt.Sprintf(format, args...)})
			}
			parts := strings.Split(nd.s, "/")
			var ns, name string
			switch len(parts) {
			case 1:
				name = parts[0]
			case 2:
				ns, name = parts[0], parts[1]
			default:
				fail("needs %q: unsupported helmfile feature: needs with a kubeContext (an environment targets one cluster)", nd.s)
				continue
			}
			targets := byName[name]
			if len(targets) == 0 {
				fail("needs %q, which is not a release of any helmfile of this environment", nd.s)
				continue
			}
			var target *candidate
			for _, t := range targets {
				if ns == "" || t.namespace == ns {
					target = t
					break
				}
			}
			if target == nil {
				fail("needs %q, but release %q is in namespace %q", nd.s, name, targets[0].namespace)
				continue
			}
			if !target.desired || !target.selected {
				l.log.Info("dropping a need of a release that is not installed or not selected", "file", c.file, "release", spec.Name, "needs", nd.s)
				continue
			}
			if !seen[name] {
				seen[name] = true
				spec.Needs = append(spec.Needs, name)
			}
		}
		sort.Strings(spec.Needs)
		out = append(out, spec)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// noEffect logs, once per file and key, a helmfile key that digitops
// accepts but that changes nothing in the desired state.
func (l *loader) noEffect(file, release, key string) {
	if l.logged[file+"\x00"+key] {
		return
	}
	l.logged[file+"\x00"+key] = true
	l.log.Info("helmfile key has no effect in digitops (its sync policy decides how helm acts)", "file", file, "release", release, "key", key)
}

// rel names a path relative to the repository for messages.
func (l *loader) rel(abs string) string {
	if r, err := filepath.Rel(l.in.RepoDir, abs); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return abs
}

func (l *loader) relAll(abs []string) []string {
	out := make([]string, len(abs))
	for i, a := range abs {
		out[i] = l.rel(a)
	}
	return out
}
