package helmfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
	"helm.sh/helm/v3/pkg/strvals"

	"github.com/digitops/digitops/source/manifest"
)

// missingFileHandler values.
const (
	handleError = "Error"
	handleWarn  = "Warn"
	handleInfo  = "Info"
	handleDebug = "Debug"
)

func handler(n *yaml.Node) (string, error) {
	s, err := str(n)
	if err != nil {
		return "", fmt.Errorf("missingFileHandler: %w", err)
	}
	switch s {
	case handleError, handleWarn, handleInfo, handleDebug:
		return s, nil
	}
	return "", fmt.Errorf("missingFileHandler: want Error, Warn, Info or Debug, got %q", s)
}

// resolvePath resolves a path of a helmfile, relative to its directory,
// inside the repository.
func (l *loader) resolvePath(st *state, p string) (string, error) {
	abs := p
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(st.dir, p)
	}
	rel, err := filepath.Rel(l.in.RepoDir, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(p) {
		return "", fmt.Errorf("path %q leaves the repository", p)
	}
	return abs, nil
}

// files expands a values path (globs allowed) into existing files. An empty
// result means the file is missing.
func (l *loader) files(st *state, p string) ([]string, error) {
	abs, err := l.resolvePath(st, p)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(p, "*?[") {
		m, err := filepath.Glob(abs)
		if err != nil {
			return nil, fmt.Errorf("bad glob %q: %w", p, err)
		}
		sort.Strings(m)
		for _, f := range m {
			if _, err := l.resolvePath(st, f); err != nil {
				return nil, err
			}
		}
		return m, nil
	}
	if _, err := os.Stat(abs); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	return []string{abs}, nil
}

// missing applies missingFileHandler to a file that does not exist.
func (l *loader) missing(st *state, h string, line int, release, kind, p string) error {
	msg := fmt.Sprintf("%s file %q does not exist (looked for %s)", kind, p, l.rel(filepath.Join(st.dir, p)))
	switch h {
	case handleWarn:
		l.log.Warn("skipping a missing file (missingFileHandler: Warn)", "file", st.name, "release", release, "missing", p)
	case handleInfo:
		l.log.Info("skipping a missing file (missingFileHandler: Info)", "file", st.name, "release", release, "missing", p)
	case handleDebug:
		l.log.Debug("skipping a missing file (missingFileHandler: Debug)", "file", st.name, "release", release, "missing", p)
	default:
		return &manifest.Error{File: st.name, Line: line, Release: release, Msg: msg + "; set missingFileHandler: Warn to skip it"}
	}
	return nil
}

// valueEntries reads a values: list of file names (.gotmpl files are
// rendered with data) and inline mappings, merged in order.
//
// The result shares maps with the files' values (see valuesFiles): never
// write into it below its top level.
func (l *loader) valueEntries(ctx context.Context, st *state, n *yaml.Node, h, release string, data func() any) (map[string]any, error) {
	out := map[string]any{}
	for _, it := range items(n) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		switch it.Kind {
		case yaml.MappingNode:
			v, err := nodeValues(it, st.name)
			if err != nil {
				return nil, err
			}
			out = manifest.OverlayValues(out, v)
		case yaml.ScalarNode:
			v, err := l.valuesFiles(ctx, st, it.Value, it.Line, h, release, data)
			if err != nil {
				return nil, err
			}
			out = manifest.OverlayValues(out, v)
		default:
			return nil, &manifest.Error{File: st.name, Line: it.Line, Release: release, Msg: "values: want a file name or a mapping, got " + kindName(it)}
		}
	}
	return out, nil
}

// valuesFiles reads the values file(s) at p. A .gotmpl file is rendered
// with data() every time; a plain file is read once per load and its values
// are shared: never write into the result below its top level.
func (l *loader) valuesFiles(ctx context.Context, st *state, p string, line int, h, release string, data func() any) (map[string]any, error) {
	fail := func(err error) error {
		return &manifest.Error{File: st.name, Line: line, Release: release, Msg: "values: " + err.Error()}
	}
	if strings.Contains(p, "::") || strings.Contains(p, "://") {
		return nil, fail(fmt.Errorf("unsupported helmfile feature: remote values file %q (only files in the repository are read)", p))
	}
	paths, err := l.files(st, p)
	if err != nil {
		return nil, fail(err)
	}
	if len(paths) == 0 {
		return map[string]any{}, l.missing(st, h, line, release, "values", p)
	}
	out := map[string]any{}
	for _, abs := range paths {
		name := l.rel(abs)
		var v map[string]any
		if strings.HasSuffix(abs, ".gotmpl") {
			b, err := manifest.ReadRepoFile(ctx, l.in.Files, abs, name, "values file")
			if err != nil {
				return nil, withRelease(err, release)
			}
			if v, err = l.templateValuesFile(abs, name, string(b), data()); err != nil {
				return nil, err
			}
		} else if v, err = l.plainValuesFile(ctx, abs, name); err != nil {
			return nil, withRelease(err, release)
		}
		out = manifest.OverlayValues(out, v)
	}
	return out, nil
}

// templateValuesFile renders a .gotmpl values file once with data, as
// helmfile does (its output is never rendered again), and parses it. Errors
// name the file and its line, not a line of the output.
func (l *loader) templateValuesFile(abs, name, text string, data any) (map[string]any, error) {
	r := &renderer{repoDir: l.in.RepoDir, files: l.in.Files, allowEnv: l.in.AllowEnv, baseDir: filepath.Dir(abs), file: name}
	out, lines, err := r.renderLines(text, data, offsetLines(0))
	if err != nil {
		return nil, err
	}
	v, err := manifest.ParseValues([]byte(out), name)
	var me *manifest.Error
	if errors.As(err, &me) && me.File == name {
		me.Line = mapLine(lines, me.Line)
		me.Msg = strings.Replace(me.Msg, "invalid YAML: ", "invalid YAML (after templating): ", 1)
	}
	return v, err
}

// plainValuesFile reads a values file that is not templated, once per load.
func (l *loader) plainValuesFile(ctx context.Context, abs, name string) (map[string]any, error) {
	if v, ok := l.plainFiles[abs]; ok {
		return v, nil
	}
	v, err := manifest.ReadValuesFile(ctx, l.in.Files, abs, name)
	if err != nil {
		return nil, err
	}
	l.plainFiles[abs] = v
	return v, nil
}

// lazy returns a function that builds template data on its first call and
// returns that same data on every later call.
func lazy[T any](build func() T) func() any {
	var data any
	built := false
	return func() any {
		if !built {
			data, built = build(), true
		}
		return data
	}
}

// secretEntries reads a secrets: list of files through the Decrypter and
// returns the merged values and every string that came from them.
func (l *loader) secretEntries(ctx context.Context, st *state, n *yaml.Node, h, release string) (map[string]any, []string, error) {
	out := map[string]any{}
	var secrets []string
	for _, it := range items(n) {
		p, err := str(it)
		if err != nil {
			return nil, nil, &manifest.Error{File: st.name, Line: it.Line, Release: release, Msg: "secrets: " + err.Error()}
		}
		v, s, err := l.secretsFile(ctx, st, p, it.Line, h, release)
		if err != nil {
			return nil, nil, err
		}
		out = manifest.OverlayValues(out, v)
		secrets = append(secrets, s...)
	}
	return out, secrets, nil
}

func (l *loader) secretsFile(ctx context.Context, st *state, p string, line int, h, release string) (map[string]any, []string, error) {
	fail := func(err error) error {
		return &manifest.Error{File: st.name, Line: line, Release: release, Msg: "secrets: " + err.Error()}
	}
	if strings.Contains(p, "::") || strings.Contains(p, "://") {
		return nil, nil, fail(fmt.Errorf("unsupported helmfile feature: remote secrets file %q", p))
	}
	abs, err := l.resolvePath(st, p)
	if err != nil {
		return nil, nil, fail(err)
	}
	if _, err := os.Stat(abs); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, l.missing(st, h, line, release, "secrets", p)
		}
		return nil, nil, fail(err)
	}
	name := l.rel(abs)
	if l.in.Decrypter != nil {
		mode := l.in.Secrets
		if mode == "" {
			mode = manifest.SecretsDecrypt
		}
		return l.in.Decrypter.DecryptValues(ctx, abs, name, mode)
	}
	v, err := manifest.ReadValuesFile(ctx, l.in.Files, abs, name)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := v["sops"]; ok {
		return nil, nil, &manifest.Error{File: name, Msg: "the file is SOPS-encrypted and no SOPS decrypter is configured"}
	}
	return v, stringLeaves(v, nil), nil
}

// stringLeaves appends every non-empty string leaf of v.
func stringLeaves(v any, out []string) []string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = stringLeaves(x[k], out)
		}
	case []any:
		for _, e := range x {
			out = stringLeaves(e, out)
		}
	case string:
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}

// setEntry is one `set:` item, applied like helm --set (or --set-file).
type setEntry struct {
	name, value, file string
	values            []string
	line              int
}

// escapeSet escapes a value for strvals as helmfile does for --set.
func escapeSet(s string) string {
	r := strings.NewReplacer(`\`, `\\`, ",", `\,`, "{", `\{`, "}", `\}`)
	return r.Replace(s)
}

// applySet applies sets to vals, whose top-level map must be the caller's
// own: each set first detaches the top-level value it writes under, which
// may be shared with other releases (see manifest.DetachSetKey).
func (l *loader) applySet(ctx context.Context, st *state, vals map[string]any, sets []setEntry, release string) error {
	for _, s := range sets {
		manifest.DetachSetKey(vals, s.name)
		var err error
		switch {
		case s.file != "":
			err = strvals.ParseIntoFile(s.name+"="+s.file, vals, func(rs []rune) (any, error) {
				abs, err := l.resolvePath(st, string(rs))
				if err != nil {
					return nil, err
				}
				b, err := manifest.ReadRepoFile(ctx, l.in.Files, abs, l.rel(abs), "file")
				return string(b), err
			})
		case s.values != nil:
			esc := make([]string, len(s.values))
			for i, v := range s.values {
				esc[i] = escapeSet(v)
			}
			err = strvals.ParseInto(s.name+"={"+strings.Join(esc, ",")+"}", vals)
		default:
			err = strvals.ParseInto(s.name+"="+escapeSet(s.value), vals)
		}
		if err != nil {
			return &manifest.Error{File: st.name, Line: s.line, Release: release, Msg: fmt.Sprintf("set %s: %v", s.name, err)}
		}
	}
	return nil
}

// withRelease names release in a load error that names none.
func withRelease(err error, release string) error {
	var me *manifest.Error
	if release != "" && errors.As(err, &me) && me.Release == "" {
		me.Release = release
	}
	return err
}
