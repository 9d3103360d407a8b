package helmfile

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/digitops/digitops/source/manifest"
)

// rawRelease is a release as written, after the file's own templating and
// before the per-release one.
type rawRelease struct {
	line               int
	name, namespace    string
	chart, version     string
	needs              []lineString
	installed          bool
	installedTemplate  *string
	condition          string
	labels             map[string]string
	values             []valueItem
	secrets            []lineString
	set                []setEntry
	missingFileHandler string
	// at is where the templated scalar fields are written: "name",
	// "namespace", "chart", "version", "installedTemplate" and
	// "labels.<key>".
	at map[string]scalarAt
}

type lineString struct {
	s    string
	line int
}

// scalarAt is where a scalar is written in its helmfile.
type scalarAt struct {
	line int
	// block is true for a literal block scalar (|), whose lines are the
	// file's lines after line.
	block bool
}

// scalarAtNode returns where the scalar n is written.
func scalarAtNode(n *yaml.Node) scalarAt {
	n = deref(n)
	if n == nil {
		return scalarAt{}
	}
	return scalarAt{line: n.Line, block: n.Style&yaml.LiteralStyle != 0}
}

// pos maps the lines of the scalar's text to lines of the file.
func (a scalarAt) pos() linePos {
	if a.block {
		return offsetLines(a.line)
	}
	return atLine(a.line)
}

// valueItem is one entry of values: or valuesTemplate:: a file or an
// inline mapping.
type valueItem struct {
	file   string
	inline map[string]any
	line   int
	// template is true for an entry of valuesTemplate:, whose mappings
	// are rendered once more per release (helmfile renders inline
	// mappings of values: only with the file).
	template bool
}

// parseRelease reads a release node: merge keys and inherit resolved, every
// key checked.
func (l *loader) parseRelease(st *state, n *yaml.Node) (*rawRelease, error) {
	r := &rawRelease{line: n.Line, installed: true}
	fs, err := fields(n)
	if err != nil {
		return nil, &manifest.Error{File: st.name, Line: n.Line, Msg: "release: " + err.Error()}
	}
	// The name first, for the messages.
	for _, f := range fs {
		if f.key == "name" {
			r.name, _ = str(f.val)
		}
	}
	fail := func(line int, format string, args ...any) error {
		return &manifest.Error{File: st.name, Line: line, Release: r.name, Msg: fmt.Sprintf(format, args...)}
	}
	fs, err = l.inherit(st, fs)
	if err != nil {
		return nil, fail(n.Line, "inherit: %v", err)
	}
	for _, f := range fs {
		switch {
		case releaseKeys[f.key]:
		case actionKeys[f.key]:
			l.noEffect(st.name, r.name, f.key)
			continue
		case unsupportedKeys[f.key] != "":
			return nil, fail(f.line, "unsupported helmfile feature: %s", unsupportedKeys[f.key])
		default:
			return nil, fail(f.line, "unknown release key %q", f.key)
		}
		if err := r.set1(f); err != nil {
			return nil, fail(f.line, "%s: %v", f.key, err)
		}
	}
	if r.name == "" {
		return nil, fail(n.Line, "release without a name")
	}
	// helmfile puts the valuesTemplate entries before those of values.
	sort.SliceStable(r.values, func(i, j int) bool { return r.values[i].template && !r.values[j].template })
	return r, nil
}

// set1 decodes one release field.
func (r *rawRelease) set1(f field) error {
	var err error
	r.noteAt(f)
	switch f.key {
	case "name":
		r.name, err = str(f.val)
	case "namespace":
		r.namespace, err = str(f.val)
	case "chart":
		r.chart, err = str(f.val)
	case "version":
		r.version, err = str(f.val)
	case "condition":
		r.condition, err = str(f.val)
	case "missingFileHandler":
		r.missingFileHandler, err = handler(f.val)
	case "installed":
		r.installed, err = boolean(f.val)
	case "installedTemplate":
		var s string
		s, err = str(f.val)
		r.installedTemplate = &s
	case "labels":
		r.labels, err = strMap(f.val)
	case "needs":
		for _, it := range items(f.val) {
			s, err := str(it)
			if err != nil {
				return err
			}
			r.needs = append(r.needs, lineString{s, it.Line})
		}
	case "secrets":
		for _, it := range items(f.val) {
			s, err := str(it)
			if err != nil {
				return err
			}
			r.secrets = append(r.secrets, lineString{s, it.Line})
		}
	case "values", "valuesTemplate":
		for _, it := range items(f.val) {
			tmpl := f.key == "valuesTemplate"
			switch it.Kind {
			case yaml.ScalarNode:
				r.values = append(r.values, valueItem{file: it.Value, line: it.Line, template: tmpl})
			case yaml.MappingNode:
				v, err := nodeValues(it, "")
				if err != nil {
					return err
				}
				r.values = append(r.values, valueItem{inline: v, line: it.Line, template: tmpl})
			default:
				return fmt.Errorf("want a file name or a mapping, got %s", kindName(it))
			}
		}
	case "set":
		for _, it := range items(f.val) {
			s, err := setItem(it)
			if err != nil {
				return err
			}
			r.set = append(r.set, s)
		}
	}
	return err
}

// noteAt records where f is written if it is a templated scalar field.
func (r *rawRelease) noteAt(f field) {
	if r.at == nil {
		r.at = map[string]scalarAt{}
	}
	switch f.key {
	case "name", "namespace", "chart", "version", "installedTemplate":
		r.at[f.key] = scalarAtNode(f.val)
	case "labels":
		lfs, _ := fields(f.val)
		for _, lf := range lfs {
			r.at["labels."+lf.key] = scalarAtNode(lf.val)
		}
	}
}

func setItem(n *yaml.Node) (setEntry, error) {
	s := setEntry{line: n.Line}
	fs, err := fields(n)
	if err != nil {
		return s, err
	}
	for _, f := range fs {
		switch f.key {
		case "name":
			s.name, err = str(f.val)
		case "value":
			s.value, err = str(f.val)
		case "file":
			s.file, err = str(f.val)
		case "values":
			s.values, err = strList(f.val)
			if s.values == nil {
				s.values = []string{}
			}
		default:
			err = fmt.Errorf("unknown key %q (want name, value, values or file)", f.key)
		}
		if err != nil {
			return s, err
		}
	}
	if s.name == "" {
		return s, errors.New("each entry needs a name")
	}
	return s, nil
}

// inherit adds the fields of the templates named by `inherit:` that the
// release does not set itself.
func (l *loader) inherit(st *state, fs []field) ([]field, error) {
	var inh *yaml.Node
	for _, f := range fs {
		if f.key == "inherit" {
			inh = f.val
		}
	}
	if inh == nil {
		return fs, nil
	}
	have := map[string]bool{}
	for _, f := range fs {
		have[f.key] = true
	}
	out := fs
	for _, it := range items(inh) {
		var name string
		except := map[string]bool{}
		ifs, err := fields(it)
		if err != nil {
			return nil, err
		}
		for _, f := range ifs {
			switch f.key {
			case "template":
				name, err = str(f.val)
			case "except":
				var ks []string
				ks, err = strList(f.val)
				for _, k := range ks {
					except[k] = true
				}
			default:
				err = fmt.Errorf("unknown key %q (want template and except)", f.key)
			}
			if err != nil {
				return nil, err
			}
		}
		t, ok := st.templates[name]
		if !ok {
			return nil, fmt.Errorf("no template named %q in templates:", name)
		}
		tfs, err := fields(t)
		if err != nil {
			return nil, fmt.Errorf("template %q: %w", name, err)
		}
		for _, f := range tfs {
			if !have[f.key] && !except[f.key] {
				have[f.key] = true
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// maxReleasePasses bounds the per-release template passes (helmfile's 6).
const maxReleasePasses = 6

// renderRelease renders the release's templated fields with .Release, as
// helmfile does: every pass renders the fields as the file's templating
// left them (never the output of the pass before), with .Release taken from
// the pass before, until a pass changes nothing. The fields are name,
// namespace, chart, version, installedTemplate, labels, needs, secrets,
// the file names of values and valuesTemplate, and the mappings of
// valuesTemplate; inline mappings of values and set are not rendered again.
func (l *loader) renderRelease(st *state, r *rawRelease) error {
	// The values, built only for a release that has templates.
	var vals map[string]any
	prev := r
	for pass := 0; pass < maxReleasePasses; pass++ {
		data := lazy(func() releaseData {
			if vals == nil {
				vals = st.env.merged()
			}
			return releaseData{
				Environment: st.env.envData(),
				Release:     releaseInfo{Name: prev.name, Namespace: prev.namespace, Chart: prev.chart, Labels: prev.labels},
				Values:      vals,
				StateValues: &vals,
			}
		})
		next := r.clone()
		if err := l.renderFields(st, next, data); err != nil {
			return err
		}
		if reflect.DeepEqual(prev, next) {
			*r = *next
			return nil
		}
		prev = next
	}
	return &manifest.Error{File: st.name, Line: r.line, Release: r.name, Msg: "release templates still change after 6 passes (recursive references)"}
}

// renderFields renders the templated fields of r in place with data (one
// pass of renderRelease). Errors name the release as written and the line
// of the field.
func (l *loader) renderFields(st *state, r *rawRelease, data func() any) error {
	name := r.name
	rs := func(what, s string, pos linePos) (string, error) {
		if !strings.Contains(s, "{{") {
			return s, nil
		}
		rd := &renderer{repoDir: l.in.RepoDir, files: l.in.Files, allowEnv: l.in.AllowEnv, baseDir: st.dir, file: st.name}
		out, err := rd.render(s, data(), pos)
		var me *manifest.Error
		if errors.As(err, &me) {
			me.Release = name
			me.Msg = what + ": " + me.Msg
		}
		return out, err
	}
	// at is where field k is written; the release's line when unknown.
	at := func(k string) linePos {
		if a, ok := r.at[k]; ok && a.line > 0 {
			return a.pos()
		}
		return atLine(r.line)
	}
	var err error
	for _, f := range []struct {
		key string
		s   *string
	}{{"name", &r.name}, {"chart", &r.chart}, {"namespace", &r.namespace}, {"version", &r.version}, {"installedTemplate", r.installedTemplate}} {
		if f.s == nil {
			continue
		}
		if *f.s, err = rs(f.key, *f.s, at(f.key)); err != nil {
			return err
		}
	}
	for k, v := range r.labels {
		if r.labels[k], err = rs("labels."+k, v, at("labels."+k)); err != nil {
			return err
		}
	}
	for i := range r.needs {
		if r.needs[i].s, err = rs("needs", r.needs[i].s, atLine(r.needs[i].line)); err != nil {
			return err
		}
	}
	for i := range r.secrets {
		if r.secrets[i].s, err = rs("secrets", r.secrets[i].s, atLine(r.secrets[i].line)); err != nil {
			return err
		}
	}
	for i, v := range r.values {
		if v.inline == nil {
			if r.values[i].file, err = rs("values", v.file, atLine(v.line)); err != nil {
				return err
			}
			continue
		}
		if v.template {
			if r.values[i].inline, err = renderMapping(st, v, rs, name); err != nil {
				return err
			}
		}
	}
	return nil
}

// renderMapping renders a valuesTemplate mapping: serialized, rendered and
// parsed again. Errors name the entry's line, the serialized text's lines
// being none of the file's.
func renderMapping(st *state, v valueItem, rs func(what, s string, pos linePos) (string, error), release string) (map[string]any, error) {
	y, err := sigsyaml.Marshal(v.inline)
	if err != nil || !strings.Contains(string(y), "{{") {
		return v.inline, nil
	}
	out, err := rs("valuesTemplate", string(y), atLine(v.line))
	if err != nil {
		return nil, err
	}
	m, err := manifest.ParseValues([]byte(out), st.name)
	if err != nil {
		var me *manifest.Error
		if errors.As(err, &me) {
			me.Line, me.Release, me.Msg = v.line, release, "valuesTemplate (after templating): "+me.Msg
		}
		return nil, err
	}
	return m, nil
}

func (r *rawRelease) clone() *rawRelease {
	c := *r
	c.needs = append([]lineString(nil), r.needs...)
	c.secrets = append([]lineString(nil), r.secrets...)
	c.values = append([]valueItem(nil), r.values...)
	c.set = nil
	if r.set != nil {
		c.set = make([]setEntry, len(r.set))
	}
	for i, s := range r.set {
		c.set[i] = s
		if s.values != nil {
			c.set[i].values = append([]string{}, s.values...)
		}
	}
	if r.labels != nil {
		c.labels = make(map[string]string, len(r.labels))
		for k, v := range r.labels {
			c.labels[k] = v
		}
	}
	if r.installedTemplate != nil {
		s := *r.installedTemplate
		c.installedTemplate = &s
	}
	return &c
}

// desired says whether the release is to be installed: installed,
// installedTemplate and condition all true.
func (r *rawRelease) desired(st *state) (bool, error) {
	ok := r.installed
	if r.installedTemplate != nil {
		b, err := strconv.ParseBool(strings.TrimSpace(*r.installedTemplate))
		if err != nil {
			return false, &manifest.Error{File: st.name, Line: r.line, Release: r.name, Msg: fmt.Sprintf("installedTemplate: want true or false, got %q", *r.installedTemplate)}
		}
		ok = ok && b
	}
	if r.condition != "" && ok {
		v, err := get(r.condition, st.env.merged())
		if err != nil {
			return false, nil // helmfile: an absent condition key disables the release
		}
		b, isBool := v.(bool)
		if !isBool {
			return false, &manifest.Error{File: st.name, Line: r.line, Release: r.name, Msg: fmt.Sprintf("condition %q: the value is %v, want true or false", r.condition, v)}
		}
		ok = b
	}
	return ok, nil
}

// displayName is a values file as the plan names it: relative to the
// repository when the name resolves to one file, else as written.
func (l *loader) displayName(st *state, p string) string {
	if paths, err := l.files(st, p); err == nil && len(paths) == 1 {
		return l.rel(paths[0])
	}
	return p
}

// spec builds the ReleaseSpec of a desired, selected release: chart, values
// (files and inline, then secrets, then set, as helm -f ... --set would).
func (l *loader) spec(ctx context.Context, st *state, r *rawRelease, ns string, labels map[string]string) (manifest.ReleaseSpec, error) {
	spec := manifest.ReleaseSpec{Name: r.name, Namespace: ns, Labels: labels, Source: st.name}
	if err := manifest.CheckReleaseName(r.name); err != nil {
		return spec, &manifest.Error{File: st.name, Line: r.line, Release: r.name, Msg: err.Error()}
	}
	if err := manifest.CheckNamespace(ns); err != nil {
		return spec, &manifest.Error{File: st.name, Line: r.line, Release: r.name, Msg: err.Error()}
	}
	chart, err := l.chart(st, r)
	if err != nil {
		return spec, err
	}
	spec.Chart = chart
	h := r.missingFileHandler
	// The template data of .gotmpl values files, built only if one is.
	data := lazy(func() releaseData {
		vals := st.env.merged()
		return releaseData{
			Environment: st.env.envData(),
			Release:     releaseInfo{Name: r.name, Namespace: ns, Chart: r.chart, Labels: r.labels},
			Values:      vals,
			StateValues: &vals,
		}
	})
	// Values files are shared by every release that names them: overlay
	// them, never merge into them.
	out := map[string]any{}
	var sources []manifest.ValueSource
	for _, v := range r.values {
		m, file := v.inline, st.name
		if m == nil {
			if m, err = l.valuesFiles(ctx, st, v.file, v.line, h, r.name, data); err != nil {
				return spec, err
			}
			file = l.displayName(st, v.file)
		}
		out = manifest.OverlayValues(out, m)
		sources = append(sources, manifest.ValueSource{File: file, Values: m})
	}
	var secrets []string
	for _, s := range r.secrets {
		v, ss, err := l.secretsFile(ctx, st, s.s, s.line, h, r.name)
		if err != nil {
			return spec, err
		}
		out = manifest.OverlayValues(out, v)
		sources = append(sources, manifest.ValueSource{File: l.displayName(st, s.s), Values: v})
		secrets = append(secrets, ss...)
	}
	spec.ValueSources = sources
	if err := l.applySet(ctx, st, out, r.set, r.name); err != nil {
		return spec, err
	}
	// Environment secrets reach a release only through templating: mask
	// those that did.
	if len(st.env.secrets) > 0 {
		in := map[string]bool{}
		for _, s := range stringLeaves(out, nil) {
			in[s] = true
		}
		for _, s := range st.env.secrets {
			if in[s] {
				secrets = append(secrets, s)
			}
		}
	}
	spec.Values = out
	spec.SecretValues = dedupe(secrets)
	return spec, nil
}

func dedupe(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	seen := map[string]bool{}
	out := in[:0:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
