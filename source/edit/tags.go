package edit

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/digitops/digitops/internal/repofs"
	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/digit"
)

// Image is one service's new tag.
type Image struct {
	// Name is the service: the chart (or release) name.
	Name string
	// Tag is the image tag to set.
	Tag string
}

// Options says which environment's files to edit and how to read them.
type Options struct {
	// RepoDir is the repository root, absolute (as loader.Config returns it).
	RepoDir string
	// ConfigPath is the configuration file (manifest.Config.Path); the
	// native layout edits it and reads values files relative to its
	// directory.
	ConfigPath string
	// Env is the environment whose files are edited.
	Env manifest.EnvironmentConfig
	// File is, for the helmfile layout, the environment values file to
	// edit, relative to RepoDir; empty means the one file under an
	// environments directory beside the helmfile with a top-level key named
	// after the first image.
	File string
	// MaxFileSize caps each repository file read; 0 means
	// repofs.DefaultMaxFileSize.
	MaxFileSize int64
}

// SetImageTags computes the edits that set each image's tag in the files
// of opts.Env's layout and returns every file it edited (an edit may leave
// a file as it was: File.Changed says). It writes nothing. An image the
// environment does not have fails the whole call, naming it and the known
// names.
func SetImageTags(ctx context.Context, opts Options, images []Image) ([]*File, error) {
	files, err := repofs.New(opts.RepoDir, opts.MaxFileSize)
	if err != nil {
		return nil, err
	}
	r := &reader{ctx: ctx, repoDir: opts.RepoDir, files: files}
	ec := opts.Env
	switch ec.EffectiveLayout() {
	case manifest.LayoutDigit:
		return editReleaseChart(r, opts.RepoDir, ec, images)
	case manifest.LayoutNative:
		return editNative(r, opts.ConfigPath, ec, images)
	case manifest.LayoutHelmfile:
		return editHelmfile(r, opts.RepoDir, opts.File, ec, images)
	}
	return nil, fmt.Errorf("environment %q: set-image does not support layout %q", ec.Name, ec.EffectiveLayout())
}

// tagPaths returns digit.TagPaths as key lists.
func tagPaths() [][]string {
	var out [][]string
	for _, p := range digit.TagPaths() {
		out = append(out, strings.Split(p, "."))
	}
	return out
}

// setTags sets the first tag path under m (adding it when insert is set
// and m has none), and each other tag path m already has.
func setTags(f *File, m *yaml.Node, tag string, insert bool) error {
	paths := tagPaths()
	if n := lookup(m, paths[0]...); n != nil {
		if err := f.setScalar(n, tag); err != nil {
			return err
		}
	} else if !insert {
		return nil
	} else if err := f.insert(m, paths[0], tag); err != nil {
		return err
	}
	for _, p := range paths[1:] {
		if n := lookup(m, p...); n != nil {
			if err := f.setScalar(n, tag); err != nil {
				return err
			}
		}
	}
	return nil
}

// unknownNames is the error for names the environment does not have.
func unknownNames(missing []string, where string, known []string) error {
	sort.Strings(known)
	return fmt.Errorf("unknown service(s) %s in %s; known: %s", strings.Join(missing, ", "), where, strings.Join(known, ", "))
}

// CommitMessage says what was deployed where, one service per line.
func CommitMessage(env string, images []Image) string {
	parts := make([]string, len(images))
	for i, t := range images {
		parts[i] = t.Name + " " + t.Tag
	}
	subject := fmt.Sprintf("deploy(%s): %s", env, strings.Join(parts, ", "))
	if len(subject) > 72 {
		subject = fmt.Sprintf("deploy(%s): %d images", env, len(images))
	}
	var body strings.Builder
	for _, t := range images {
		fmt.Fprintf(&body, "- %s: %s\n", t.Name, t.Tag)
	}
	return subject + "\n\n" + body.String() + "\nSet by digitops set-image.\n"
}
