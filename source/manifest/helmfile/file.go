package helmfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/digitops/digitops/source/manifest"
)

// envState is the helmfile environment as it builds up over the parts of a
// file: .Values is defaults, then the environment's values and secrets, then
// the values the parent helmfile passes.
type envState struct {
	name      string
	defaults  map[string]any
	values    map[string]any
	overrides map[string]any
	// secrets are the strings that came from environment secrets files.
	secrets []string
}

func newEnv(name string, overrides map[string]any) *envState {
	return &envState{name: name, defaults: map[string]any{}, values: map[string]any{}, overrides: overrides}
}

func (e *envState) clone() *envState {
	c := *e
	c.defaults = manifest.CopyValues(e.defaults)
	c.values = manifest.CopyValues(e.values)
	c.secrets = append([]string(nil), e.secrets...)
	return &c
}

// merged returns .Values.
func (e *envState) merged() map[string]any {
	out := manifest.MergeValues(map[string]any{}, manifest.CopyValues(e.defaults))
	out = manifest.MergeValues(out, manifest.CopyValues(e.values))
	return manifest.MergeValues(out, manifest.CopyValues(e.overrides))
}

func (e *envState) envData() environmentData {
	return environmentData{Name: e.name, Values: manifest.MergeValues(manifest.CopyValues(e.values), manifest.CopyValues(e.overrides)), Defaults: manifest.CopyValues(e.defaults)}
}

func (e *envState) data() stateData {
	vals := e.merged()
	return stateData{Environment: e.envData(), Values: vals, StateValues: &vals}
}

// state is one helmfile, rendered and parsed.
type state struct {
	// name is the repository-relative file name.
	name string
	// dir is the file's absolute directory; relative paths start there.
	dir string
	env *envState
	// envSeen is true when the file has an environments: block, envDefined
	// when that block names the selected environment.
	envSeen, envDefined bool
	releases            []*yaml.Node
	templates           map[string]*yaml.Node
	repositories        map[string]string
	helmfiles           []*yaml.Node
	commonLabels        map[string]string
	missingFileHandler  string
}

// part is one `---`-separated document of a file.
type part struct {
	text string
	// offset is the number of lines before the part.
	offset int
}

func splitParts(content string) []part {
	var out []part
	offset := 0
	for {
		i := strings.Index(content, "\n---\n")
		if i < 0 {
			out = append(out, part{text: content, offset: offset})
			return out
		}
		out = append(out, part{text: content[:i+1], offset: offset})
		offset += strings.Count(content[:i+1], "\n") + 1
		content = content[i+5:]
	}
}

// loadFile reads, renders and parses one helmfile.
func (l *loader) loadFile(ctx context.Context, abs string, env *envState) (*state, error) {
	name := l.rel(abs)
	data, err := manifest.ReadRepoFile(ctx, l.in.Files, abs, name, "helmfile")
	if err != nil {
		return nil, err
	}
	// helmfile deps writes <name>.lock beside the file and then deploys the
	// versions it pins, not those written in the file.
	if lock := strings.TrimSuffix(abs, filepath.Ext(abs)) + ".lock"; fileExists(lock) {
		return nil, &manifest.Error{File: name, Msg: fmt.Sprintf("unsupported helmfile feature: the lock file %s pins chart versions; write the versions in the helmfile", l.rel(lock))}
	}
	return l.loadContent(ctx, abs, string(data), env)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// loadContent renders and parses the content of the helmfile at abs.
func (l *loader) loadContent(ctx context.Context, abs, content string, env *envState) (*state, error) {
	name := l.rel(abs)
	content = strings.ReplaceAll(content, "\r\n", "\n")
	st := &state{name: name, dir: filepath.Dir(abs), env: env, templates: map[string]*yaml.Node{}, repositories: map[string]string{}}
	v1 := strings.HasSuffix(abs, ".gotmpl")
	for _, p := range splitParts(content) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out, at, err := l.renderPart(ctx, st, p, v1)
		if err != nil {
			return nil, err
		}
		top, err := parseTop(out, name, at)
		if err != nil {
			return nil, err
		}
		if err := l.applyPart(ctx, st, top); err != nil {
			return nil, err
		}
	}
	if st.envSeen && !st.envDefined && env.name != defaultEnv {
		return nil, &manifest.Error{File: name, Msg: fmt.Sprintf("environment %q is not defined in environments:", env.name)}
	}
	return st, nil
}

const defaultEnv = "default"

// renderPart renders one part: once with the current environment for
// .gotmpl (helmfile v1), or in two passes for other files (helmfile v0:
// a lenient pass to read the environments, then the real one). Each pass
// renders the part as written, never the output of another pass, so an
// escaped {{`{{ x }}`}} comes out as {{ x }}. It returns the output and the
// line of the file that each line of the output comes from.
func (l *loader) renderPart(ctx context.Context, st *state, p part, v1 bool) (string, linePos, error) {
	if !strings.Contains(p.text, "{{") {
		return p.text, offsetLines(p.offset), nil
	}
	env := st.env
	if !v1 {
		env = l.firstPass(ctx, st, p)
	}
	r := &renderer{repoDir: l.in.RepoDir, files: l.in.Files, allowEnv: l.in.AllowEnv, baseDir: st.dir, file: st.name}
	out, lines, err := r.renderLines(p.text, env.data(), offsetLines(p.offset))
	return out, func(n int) int { return mapLine(lines, n) }, err
}

// firstPass is helmfile v0's first pass over a part: it renders the part
// leniently with the environment known so far and returns that environment
// with the part's environments: and values: read from the output. Errors
// are tolerated: the second pass reports them.
func (l *loader) firstPass(ctx context.Context, st *state, p part) *envState {
	first := &renderer{repoDir: l.in.RepoDir, files: l.in.Files, allowEnv: l.in.AllowEnv, baseDir: st.dir, file: st.name, lenient: true}
	out, _ := first.render(p.text, st.env.data(), offsetLines(p.offset))
	top, ok := parseLenient(out, st.name)
	if !ok {
		return st.env
	}
	trial := &state{name: st.name, dir: st.dir, env: st.env.clone(), templates: map[string]*yaml.Node{}, repositories: map[string]string{}}
	if err := l.loadEnvValues(ctx, trial, top); err != nil {
		return st.env
	}
	return trial.env
}

// parseLenient parses the first pass's output, dropping trailing lines
// until it parses (the pass stops at the first template error).
func parseLenient(out, name string) ([]field, bool) {
	lines := strings.Split(out, "\n")
	for tries := 0; tries < 32 && len(lines) > 0; tries++ {
		top, err := parseTop(strings.Join(lines, "\n"), name, offsetLines(0))
		if err == nil {
			return top, true
		}
		lines = lines[:len(lines)-1]
	}
	return nil, false
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// parseTop parses a rendered part into its top-level keys. at maps a line
// of out to the line of the file it comes from (0 when unknown); every node
// and error gets the file's line.
func parseTop(out, name string, at linePos) ([]field, error) {
	if err := manifest.CheckYAML([]byte(out), name); err != nil {
		var me *manifest.Error
		if errors.As(err, &me) {
			me.Line = at(me.Line)
		}
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := 0
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			line = at(line)
			msg = strings.TrimLeft(strings.TrimPrefix(strings.TrimSpace(yamlLine.ReplaceAllString(msg, "")), ":"), " ")
		}
		return nil, &manifest.Error{File: name, Line: line, Msg: "invalid YAML (after templating): " + msg}
	}
	remapLines(&doc, at)
	root := deref(&doc)
	if isNull(root) {
		return nil, nil
	}
	top, err := fields(root)
	if err != nil {
		return nil, &manifest.Error{File: name, Line: root.Line, Msg: "a helmfile must be a mapping: " + err.Error()}
	}
	return top, nil
}

// applyPart checks the top-level keys of a part and adds them to st.
func (l *loader) applyPart(ctx context.Context, st *state, top []field) error {
	for _, f := range top {
		switch {
		case topKeys[f.key]:
		case topNoEffect[f.key]:
			l.noEffect(st.name, "", f.key)
		case topUnsupported[f.key] != "":
			return &manifest.Error{File: st.name, Line: f.line, Msg: "unsupported helmfile feature: " + topUnsupported[f.key]}
		default:
			return &manifest.Error{File: st.name, Line: f.line, Msg: fmt.Sprintf("unknown helmfile key %q", f.key)}
		}
	}
	for _, f := range top {
		if f.key == "missingFileHandler" {
			h, err := handler(f.val)
			if err != nil {
				return &manifest.Error{File: st.name, Line: f.line, Msg: err.Error()}
			}
			st.missingFileHandler = h
		}
	}
	if err := l.loadEnvValues(ctx, st, top); err != nil {
		return err
	}
	for _, f := range top {
		var err error
		switch f.key {
		case "releases":
			if n := deref(f.val); !isNull(n) && n.Kind != yaml.SequenceNode {
				err = fmt.Errorf("releases: want a list")
			}
			st.releases = append(st.releases, items(f.val)...)
		case "helmfiles":
			st.helmfiles = append(st.helmfiles, items(f.val)...)
		case "templates":
			var fs []field
			if fs, err = fields(f.val); err == nil {
				for _, t := range fs {
					st.templates[t.key] = t.val
				}
			}
		case "commonLabels":
			var m map[string]string
			if m, err = strMap(f.val); err == nil {
				if st.commonLabels == nil {
					st.commonLabels = map[string]string{}
				}
				for k, v := range m {
					st.commonLabels[k] = v
				}
			}
		case "repositories":
			err = l.repositories(st, f.val)
		case "helmDefaults":
			err = l.helmDefaults(st, f.val)
		}
		if err != nil {
			var me *manifest.Error
			if errors.As(err, &me) {
				return err
			}
			return &manifest.Error{File: st.name, Line: f.line, Msg: fmt.Sprintf("%s: %v", f.key, err)}
		}
	}
	return nil
}

func (l *loader) repositories(st *state, n *yaml.Node) error {
	for _, it := range items(n) {
		fs, err := fields(it)
		if err != nil {
			return &manifest.Error{File: st.name, Line: it.Line, Msg: "repositories: " + err.Error()}
		}
		var name, url string
		oci := false
		for _, f := range fs {
			switch f.key {
			case "name":
				name, err = str(f.val)
			case "url":
				url, err = str(f.val)
			case "oci":
				oci, err = boolean(f.val)
			default:
				return &manifest.Error{File: st.name, Line: f.line, Msg: fmt.Sprintf("unsupported helmfile feature: repository %s is not supported (digitops reads public https and OCI repositories by name and url only)", f.key)}
			}
			if err != nil {
				return &manifest.Error{File: st.name, Line: f.line, Msg: fmt.Sprintf("repositories: %s: %v", f.key, err)}
			}
		}
		if name == "" || url == "" {
			return &manifest.Error{File: st.name, Line: it.Line, Msg: "repositories: each repository needs a name and a url"}
		}
		if oci && !strings.HasPrefix(url, "oci://") {
			url = "oci://" + url
		}
		st.repositories[name] = strings.TrimSuffix(url, "/")
	}
	return nil
}

func (l *loader) helmDefaults(st *state, n *yaml.Node) error {
	fs, err := fields(n)
	if err != nil {
		return err
	}
	for _, f := range fs {
		switch {
		case actionKeys[f.key]:
			l.noEffect(st.name, "", "helmDefaults."+f.key)
		case unsupportedKeys[f.key] != "":
			return &manifest.Error{File: st.name, Line: f.line, Msg: "unsupported helmfile feature: helmDefaults." + f.key + ": " + unsupportedKeys[f.key]}
		default:
			return &manifest.Error{File: st.name, Line: f.line, Msg: fmt.Sprintf("unknown helmDefaults key %q", f.key)}
		}
	}
	return nil
}

// loadEnvValues reads the top-level values: (defaults) and the selected
// environment's values and secrets into st.env.
func (l *loader) loadEnvValues(ctx context.Context, st *state, top []field) error {
	for _, f := range top {
		switch f.key {
		case "values":
			h := st.missingFileHandler
			vals, err := l.valueEntries(ctx, st, f.val, h, "", lazy(st.env.data))
			if err != nil {
				return err
			}
			st.env.defaults = manifest.OverlayValues(st.env.defaults, vals)
		case "environments":
			st.envSeen = true
			envs, err := fields(f.val)
			if err != nil {
				return &manifest.Error{File: st.name, Line: f.line, Msg: "environments: " + err.Error()}
			}
			for _, e := range envs {
				if e.key != st.env.name {
					continue
				}
				st.envDefined = true
				if err := l.environment(ctx, st, e); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (l *loader) environment(ctx context.Context, st *state, e field) error {
	fs, err := fields(e.val)
	if err != nil {
		return &manifest.Error{File: st.name, Line: e.line, Msg: fmt.Sprintf("environments.%s: %v", e.key, err)}
	}
	h := ""
	for _, f := range fs {
		switch {
		case f.key == "missingFileHandler":
			if h, err = handler(f.val); err != nil {
				return &manifest.Error{File: st.name, Line: f.line, Msg: err.Error()}
			}
		case f.key == "kubeContext":
			return &manifest.Error{File: st.name, Line: f.line, Msg: "unsupported helmfile feature: environments." + e.key + ".kubeContext: " + unsupportedKeys["kubeContext"]}
		case !environmentKeys[f.key]:
			return &manifest.Error{File: st.name, Line: f.line, Msg: fmt.Sprintf("unknown key %q in environments.%s", f.key, e.key)}
		}
	}
	for _, f := range fs {
		switch f.key {
		case "values":
			vals, err := l.valueEntries(ctx, st, f.val, h, "", lazy(st.env.data))
			if err != nil {
				return err
			}
			st.env.values = manifest.OverlayValues(st.env.values, vals)
		case "secrets":
			vals, secrets, err := l.secretEntries(ctx, st, f.val, h, "")
			if err != nil {
				return err
			}
			st.env.values = manifest.OverlayValues(st.env.values, vals)
			st.env.secrets = append(st.env.secrets, secrets...)
		}
	}
	return nil
}
