package helmfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/digitops/digitops/internal/repofs"
	"github.com/digitops/digitops/internal/yamldepth"
	"github.com/digitops/digitops/source/manifest"
)

// environmentData is .Environment in templates.
type environmentData struct {
	Name        string
	KubeContext string
	Values      map[string]any
	Defaults    map[string]any
}

// stateData is the data of a helmfile's own templates.
type stateData struct {
	Environment environmentData
	Namespace   string
	Values      map[string]any
	StateValues *map[string]any
}

// releaseInfo is .Release in release templates.
type releaseInfo struct {
	Name        string
	Namespace   string
	Chart       string
	Labels      map[string]string
	KubeContext string
}

// releaseData is the data of release fields and .gotmpl values files.
type releaseData struct {
	Environment environmentData
	Release     releaseInfo
	Values      map[string]any
	StateValues *map[string]any
	Namespace   string
}

// renderer renders helmfile templates for one file.
type renderer struct {
	// repoDir bounds readFile and readDir.
	repoDir string
	// baseDir is where relative paths in readFile start: the helmfile's dir.
	baseDir string
	// file is the repository-relative file name for errors.
	file string
	// files confines readFile to the repository (regular files under a
	// size cap, so that a read cannot hang: it needs no context); nil reads
	// unconfined (tests).
	files *repofs.Root
	// lenient is helmfile's first pass: missing keys are empty, required and
	// readFile never fail, and errors are tolerated by the caller.
	lenient bool
	// allowEnv are the variables templates may read (names or path.Match
	// patterns); any other reads as unset.
	allowEnv []string
}

// tmplName is the template's name, fixed so that errors parse reliably.
const tmplName = "helmfile"

var tmplPos = regexp.MustCompile(tmplName + `:\d+`)

var tmplErr = regexp.MustCompile(`^template: ` + tmplName + `:(\d+)(?::\d+)?: (?:executing "` + tmplName + `" at <[^>]*>: )?(.*)$`)

// render executes text as a template. pos maps the template's lines to
// lines of r.file for errors. It returns the partial output along with an
// execution error.
func (r *renderer) render(text string, data any, pos linePos) (string, error) {
	out, _, err := r.execute(text, data, pos, false)
	return out, err
}

// renderLines is render that also returns, for each line of the output, the
// line of r.file that wrote it (0 when pos cannot tell): the line of the
// text, or of the action whose output it is.
func (r *renderer) renderLines(text string, data any, pos linePos) (string, []int, error) {
	out, lines, err := r.execute(text, data, pos, true)
	for i, l := range lines {
		lines[i] = pos(l)
	}
	return out, lines, err
}

func (r *renderer) execute(text string, data any, pos linePos, mark bool) (string, []int, error) {
	t := template.New(tmplName).Funcs(r.funcs())
	if r.lenient {
		t = t.Option("missingkey=zero")
	} else {
		t = t.Option("missingkey=error")
	}
	if _, err := t.Parse(text); err != nil {
		return "", nil, r.templateError(err, pos)
	}
	if mark {
		markLines(t, text)
	}
	buf := &limitedBuffer{max: maxRendered}
	err := t.Execute(buf, data)
	out := buf.String()
	var lines []int
	if mark {
		out, lines = unmarkLines(out)
	}
	if err != nil {
		return out, lines, r.templateError(err, pos)
	}
	if r.lenient {
		out = strings.ReplaceAll(out, "<no value>", "")
	}
	return out, lines, nil
}

// templateError turns a text/template error into a manifest.Error naming
// r.file and, through pos, its line.
func (r *renderer) templateError(err error, pos linePos) error {
	var me *manifest.Error
	if errors.As(err, &me) {
		return err
	}
	msg := err.Error()
	line := 0
	if m := tmplErr.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		line = pos(line)
		msg = m[2]
	}
	// Other positions in the message ("started at helmfile:4") get file lines.
	msg = tmplPos.ReplaceAllStringFunc(msg, func(s string) string {
		n, _ := strconv.Atoi(strings.TrimPrefix(s, tmplName+":"))
		if n = pos(n); n == 0 {
			return "an earlier line"
		}
		return "line " + strconv.Itoa(n)
	})
	return &manifest.Error{File: r.file, Line: line, Msg: "template: " + msg}
}

// errUnsupportedFunc is what exec and the secret-reference functions return.
func unsupportedFunc(name, why string) func(...any) (any, error) {
	return func(...any) (any, error) {
		return nil, fmt.Errorf("the template function %s is not supported by digitops: %s", name, why)
	}
}

func (r *renderer) funcs() template.FuncMap {
	f := sprig.TxtFuncMap()
	f["sprigGet"] = f["get"]
	// Bounded versions of sprig's generators, so that a template cannot
	// exhaust memory.
	f["until"] = func(n int) ([]int, error) { return bounded(0, n, 1) }
	f["untilStep"] = bounded
	f["repeat"] = func(n int, s string) (string, error) {
		if n < 0 || n*len(s) > maxRendered {
			return "", fmt.Errorf("repeat: result over %d bytes", maxRendered)
		}
		return strings.Repeat(s, n), nil
	}
	f["env"] = r.env
	f["expandenv"] = func(s string) string { return os.Expand(s, r.env) }
	f["requiredEnv"] = r.requiredEnv
	f["required"] = r.required
	f["toYaml"] = toYaml
	f["fromYaml"] = fromYaml
	f["readFile"] = r.readFile
	f["readDir"] = r.readDir
	f["isFile"] = r.isFile
	f["isDir"] = r.isDir
	f["get"] = get
	f["getOrNil"] = getOrNil
	f["setValueAtPath"] = setValueAtPath
	f["tpl"] = r.tpl
	f["exec"] = unsupportedFunc("exec", "a reconciler must not run commands from the repository; commit the output or use readFile")
	f["envExec"] = unsupportedFunc("envExec", "a reconciler must not run commands from the repository")
	f["fetchSecretValue"] = unsupportedFunc("fetchSecretValue", "vals secret references are not supported; use SOPS secrets files")
	f["expandSecretRefs"] = unsupportedFunc("expandSecretRefs", "vals secret references are not supported; use SOPS secrets files")
	return f
}

func (r *renderer) requiredEnv(name string) (string, error) {
	switch {
	case hiddenEnv(name):
		return "", fmt.Errorf("requiredEnv: %s is a credential of digitops itself, which templates cannot read", name)
	case !r.envAllowed(name) && !r.lenient:
		return "", fmt.Errorf("%s is not a variable templates may read: the operator allows them by name with --helmfile-env (none by default)", name)
	}
	if v := r.env(name); v != "" || r.lenient {
		return v, nil
	}
	return "", fmt.Errorf("required environment variable %s is not set", name)
}

// env is os.Getenv for templates: a variable the operator did not allow,
// or that holds digitops's own credentials (see hiddenEnv), reads as
// unset. Anything a template reads can end up in values, a plan and a
// pull-request comment, and CI runners hold tokens under every name
// (GITHUB_TOKEN, CI_JOB_TOKEN, ARM_CLIENT_SECRET...).
func (r *renderer) env(name string) string {
	if hiddenEnv(name) || !r.envAllowed(name) {
		return ""
	}
	return os.Getenv(name)
}

// envAllowed reports whether name is one of r.allowEnv, or matches one of
// its patterns.
func (r *renderer) envAllowed(name string) bool {
	for _, p := range r.allowEnv {
		if ok, _ := path.Match(p, name); ok || p == name {
			return true
		}
	}
	return false
}

// CheckAllowEnv returns why an entry of an environment allowlist (see
// manifest.LayoutInput.AllowEnv) is not a variable name or a path.Match
// pattern, or nil.
func CheckAllowEnv(allow []string) error {
	for _, p := range allow {
		if p == "" || strings.ContainsAny(p, "=\x00") {
			return fmt.Errorf("%q is not a variable name or pattern", p)
		}
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("%q is not a variable name or pattern: %w", p, err)
		}
	}
	return nil
}

// hiddenEnv reports whether the variable name is one templates may not
// read even when the operator allows it (by a pattern such as *):
// digitops's own (DIGITOPS_*: Git credentials, tokens, webhook secrets),
// the SOPS keys (SOPS_*), and the cloud and Vault credentials the
// decrypter may use.
func hiddenEnv(name string) bool {
	upper := strings.ToUpper(name)
	for _, prefix := range []string{"DIGITOPS_", "SOPS_"} {
		if strings.HasPrefix(upper, prefix) {
			return true
		}
	}
	switch upper {
	case "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS",
		"GOOGLE_CREDENTIALS", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "VAULT_TOKEN", "GNUPGHOME", "KUBECONFIG":
		return true
	}
	return false
}

func (r *renderer) required(msg string, v any) (any, error) {
	if r.lenient {
		return v, nil
	}
	if v == nil {
		return nil, errors.New(msg)
	}
	if s, ok := v.(string); ok && s == "" {
		return nil, errors.New(msg)
	}
	return v, nil
}

// path resolves a template's file argument inside the repository.
func (r *renderer) path(name string) (string, error) {
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(r.baseDir, p)
	}
	rel, err := filepath.Rel(r.repoDir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%q is outside the repository", name)
	}
	return p, nil
}

func (r *renderer) readFile(name string) (string, error) {
	p, err := r.path(name)
	if err == nil {
		var b []byte
		if b, err = r.read(p); err == nil {
			return string(b), nil
		}
	}
	if r.lenient {
		return "", nil
	}
	return "", fmt.Errorf("readFile: %w", err)
}

// read reads one file for readFile.
func (r *renderer) read(p string) ([]byte, error) {
	if r.files == nil {
		return os.ReadFile(p)
	}
	return r.files.ReadFile(context.Background(), p)
}

func (r *renderer) readDir(name string) ([]string, error) {
	p, err := r.path(name)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		if r.lenient {
			return nil, nil
		}
		return nil, fmt.Errorf("readDir: %w", err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() {
			out = append(out, filepath.Join(name, e.Name()))
		}
	}
	return out, nil
}

func (r *renderer) isFile(name string) (bool, error) {
	p, err := r.path(name)
	if err != nil {
		return false, err
	}
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular(), nil
}

func (r *renderer) isDir(name string) (bool, error) {
	p, err := r.path(name)
	if err != nil {
		return false, err
	}
	st, err := os.Stat(p)
	return err == nil && st.IsDir(), nil
}

// tpl renders text as a nested template with data.
func (r *renderer) tpl(text string, data any) (string, error) {
	t := template.New("tpl").Funcs(r.funcs())
	if !r.lenient {
		t = t.Option("missingkey=error")
	}
	if _, err := t.Parse(text); err != nil {
		return "", err
	}
	buf := &limitedBuffer{max: maxRendered}
	if err := t.Execute(buf, data); err != nil {
		return "", err
	}
	return buf.String(), nil
}

func toYaml(v any) (string, error) {
	b, err := sigsyaml.Marshal(v)
	return string(b), err
}

func fromYaml(s string) (map[string]any, error) {
	if err := yamldepth.Check([]byte(s), yamldepth.Max); err != nil {
		return nil, fmt.Errorf("fromYaml: %w", err)
	}
	m := map[string]any{}
	if err := sigsyaml.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("fromYaml: %w", err)
	}
	return m, nil
}

// errNoValue is get's "no such key"; getOrNil turns it into nil.
var errNoValue = errors.New("no value")

// get returns the value at a dotted path: get PATH OBJ or get PATH DEFAULT OBJ.
func get(path string, args ...any) (any, error) {
	var def, obj any
	hasDef := false
	switch len(args) {
	case 1:
		obj = args[0]
	case 2:
		def, obj, hasDef = args[0], args[1], true
	default:
		return nil, fmt.Errorf("get: want get PATH [DEFAULT] OBJECT, got %d arguments", len(args)+1)
	}
	if path == "" {
		return obj, nil
	}
	for _, k := range strings.Split(path, ".") {
		next, ok := lookup(obj, k)
		if !ok {
			if hasDef {
				return def, nil
			}
			return nil, fmt.Errorf("get %q: %w for key %q", path, errNoValue, k)
		}
		obj = next
	}
	return obj, nil
}

func lookup(obj any, key string) (any, bool) {
	switch m := obj.(type) {
	case map[string]any:
		v, ok := m[key]
		return v, ok
	case *map[string]any:
		if m == nil {
			return nil, false
		}
		v, ok := (*m)[key]
		return v, ok
	case map[any]any:
		v, ok := m[key]
		return v, ok
	}
	rv := reflect.ValueOf(obj)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() == reflect.Struct {
		f := rv.FieldByName(key)
		if f.IsValid() && f.CanInterface() {
			return f.Interface(), true
		}
	}
	return nil, false
}

func getOrNil(path string, obj any) (any, error) {
	v, err := get(path, obj)
	if errors.Is(err, errNoValue) {
		return nil, nil
	}
	return v, err
}

// setValueAtPath sets a dotted path in values; every map on the way must
// already exist.
func setValueAtPath(path string, value any, values map[string]any) (map[string]any, error) {
	keys := strings.Split(path, ".")
	cur := values
	for _, k := range keys[:len(keys)-1] {
		next, ok := cur[k].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("setValueAtPath %q: %q is not a map", path, k)
		}
		cur = next
	}
	cur[keys[len(keys)-1]] = value
	return values, nil
}

// maxRendered bounds what one template may produce.
const maxRendered = 16 << 20

// maxSeq bounds until and untilStep.
const maxSeq = 100_000

func bounded(start, stop, step int) ([]int, error) {
	if step == 0 || (stop-start)/step > maxSeq {
		return nil, fmt.Errorf("until: more than %d steps", maxSeq)
	}
	var out []int
	for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
		out = append(out, i)
	}
	return out, nil
}

// limitedBuffer fails writes past max bytes.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, fmt.Errorf("the rendered template exceeds %d bytes", b.max)
	}
	return b.Buffer.Write(p)
}
