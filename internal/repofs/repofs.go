package repofs

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DefaultMaxFileSize caps each file read from a repository (16 MiB: DIGIT's
// largest environment file is under 100 KiB).
const DefaultMaxFileSize int64 = 16 << 20

// Root is a repository root that reads are confined to.
type Root struct {
	// dir is the root, absolute, with its own symlinks resolved.
	dir string
	// max is the size cap of one file.
	max int64
}

// New returns the root at dir; maxFileSize <= 0 means DefaultMaxFileSize.
func New(dir string, maxFileSize int64) (*Root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", dir, err)
	}
	if maxFileSize <= 0 {
		maxFileSize = DefaultMaxFileSize
	}
	return &Root{dir: resolved, max: maxFileSize}, nil
}

// Dir returns the root directory (symlinks resolved).
func (r *Root) Dir() string { return r.dir }

// Error is a file the repository may not make digitops read.
type Error struct {
	// File is the file as the repository names it.
	File string
	// Line is the 1-based line at fault, or 0.
	Line int
	// Msg says why.
	Msg string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// name returns path relative to the root, for errors.
func (r *Root) name(path string) string {
	if rel, err := filepath.Rel(r.dir, path); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return path
}

// inside reports whether the resolved path is the root or under it.
func (r *Root) inside(resolved string) bool {
	return resolved == r.dir || strings.HasPrefix(resolved, r.dir+string(filepath.Separator))
}

// Resolve returns path (absolute, or relative to the root) with its
// symlinks resolved, or an error when it leaves the root. A path that does
// not exist returns an error wrapping fs.ErrNotExist.
func (r *Root) Resolve(path string) (string, error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(r.dir, path)
	}
	path = filepath.Clean(path)
	// The root may itself be reached through a symlink (/tmp on macOS).
	if !r.inside(path) {
		if rel, err := r.relToUnresolved(path); err == nil {
			path = filepath.Join(r.dir, rel)
		}
	}
	if !r.inside(path) {
		return "", &Error{File: path, Msg: "is outside the repository"}
	}
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		if os.IsNotExist(err) {
			if _, lerr := os.Lstat(path); lerr == nil {
				target, _ := os.Readlink(path)
				return "", &Error{File: r.name(path), Msg: fmt.Sprintf("is a link to %s, which does not exist", target)}
			}
			return "", fmt.Errorf("%s: %w", r.name(path), fs.ErrNotExist)
		}
		return "", &Error{File: r.name(path), Msg: err.Error()}
	}
	if !r.inside(resolved) {
		return "", &Error{File: r.name(path), Msg: fmt.Sprintf("is a link to %s, outside the repository: digitops reads only files inside it", resolved)}
	}
	return resolved, nil
}

// relToUnresolved maps a path under the unresolved spelling of the root
// (as a caller built it) to a path relative to the root.
func (r *Root) relToUnresolved(path string) (string, error) {
	dir := path
	for dir != filepath.Dir(dir) {
		dir = filepath.Dir(dir)
		if resolved, err := filepath.EvalSymlinks(dir); err == nil && resolved == r.dir {
			return filepath.Rel(dir, path)
		}
	}
	return "", fmt.Errorf("not under the root")
}

// ReadFile reads a regular file inside the root, at most the size cap.
func (r *Root) ReadFile(ctx context.Context, path string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	resolved, err := r.Resolve(path)
	if err != nil {
		return nil, err
	}
	info, err := os.Lstat(resolved)
	if err != nil {
		return nil, &Error{File: r.name(path), Msg: err.Error()}
	}
	if err := r.checkFile(path, info); err != nil {
		return nil, err
	}
	f, err := os.Open(resolved)
	if err != nil {
		return nil, &Error{File: r.name(path), Msg: err.Error()}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, r.max+1))
	if err != nil {
		return nil, &Error{File: r.name(path), Msg: err.Error()}
	}
	if int64(len(data)) > r.max {
		return nil, r.tooLarge(path)
	}
	return data, nil
}

// checkFile refuses anything but a regular file under the size cap.
func (r *Root) checkFile(path string, info fs.FileInfo) error {
	if !info.Mode().IsRegular() {
		return &Error{File: r.name(path), Msg: fmt.Sprintf("is not a regular file (%s): digitops reads only regular files", kind(info.Mode()))}
	}
	if info.Size() > r.max {
		return r.tooLarge(path)
	}
	return nil
}

func (r *Root) tooLarge(path string) error {
	return &Error{File: r.name(path), Msg: fmt.Sprintf("is larger than %d bytes, the cap on one repository file", r.max)}
}

// CheckTree walks the directory dir (a chart) and refuses it when an entry
// is a link that leaves the root, or a file that is not regular or is over
// the size cap: what Helm's chart loader then reads stays inside. It also
// refuses, before Helm parses them, the YAML files Helm's loader reads
// (Chart.yaml, values.yaml, requirements.yaml and the lock files) when
// they nest deeper than yamldepth.Max, and a chart whose Chart.yaml
// depends on a chart of a repository (not file://) that charts/ does not
// hold, which `helm template` refuses and Helm's loader drops silently.
func (r *Root) CheckTree(ctx context.Context, dir string) error {
	resolved, err := r.Resolve(dir)
	if err != nil {
		return err
	}
	if err := r.checkTree(ctx, resolved, resolved, 0); err != nil {
		return err
	}
	return r.checkDependencies(ctx, resolved)
}

// maxLinkDepth bounds links to directories followed while checking a tree.
const maxLinkDepth = 16

func (r *Root) checkTree(ctx context.Context, name, dir string, depth int) error {
	if depth > maxLinkDepth {
		return &Error{File: r.name(name), Msg: "too many levels of links"}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return &Error{File: r.name(name), Msg: err.Error()}
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		path, entryName := filepath.Join(dir, e.Name()), filepath.Join(name, e.Name())
		if e.Type()&fs.ModeSymlink != 0 {
			target, err := r.Resolve(path)
			if err != nil {
				return err
			}
			info, err := os.Stat(target)
			if err != nil {
				return &Error{File: r.name(entryName), Msg: err.Error()}
			}
			if info.IsDir() {
				if err := r.checkTree(ctx, entryName, target, depth+1); err != nil {
					return err
				}
				continue
			}
			if err := r.checkFile(entryName, info); err != nil {
				return err
			}
			if err := r.checkChartYAML(entryName, target); err != nil {
				return err
			}
			continue
		}
		if e.IsDir() {
			if err := r.checkTree(ctx, entryName, path, depth); err != nil {
				return err
			}
			continue
		}
		info, err := e.Info()
		if err != nil {
			return &Error{File: r.name(entryName), Msg: err.Error()}
		}
		if err := r.checkFile(entryName, info); err != nil {
			return err
		}
		if err := r.checkChartYAML(entryName, path); err != nil {
			return err
		}
	}
	return nil
}

// kind names a file mode that is not a regular file.
func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeDevice != 0, m&fs.ModeCharDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsDir():
		return "a directory"
	}
	return m.Type().String()
}
