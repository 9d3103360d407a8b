package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/pmezard/go-difflib/difflib"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/digitops/digitops/source/git"
	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/digit"
	"github.com/digitops/digitops/source/manifest/loader"
)

type setImageOptions struct {
	dryRun bool
	noPush bool
	remote string
	file   string
}

// imageTag is one NAME:TAG argument.
type imageTag struct{ name, tag string }

// tagPattern is a Docker tag.
var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

func newSetImageCommand(g *globalOptions, s streams) *cobra.Command {
	o := &setImageOptions{}
	cmd := &cobra.Command{
		Use:   "set-image ENV NAME:TAG [NAME:TAG...]",
		Short: "Set image tags in the environment repository, commit and push",
		Long: `set-image is commit-to-deploy for CI: it sets the image tag of each named
service in the environment's files, commits the change and pushes it, and the
daemon (or a later apply) deploys it.

Where the tag is written depends on the layout:
  digit     the product release chart: the services: entries repo/NAME:TAG
            and repo/NAME-db:TAG (the database migration image) together
  native    the release's values in digitops.yaml: image.tag (and
            initContainers.dbMigration.image.tag when set), in the last values
            item that sets image.tag, else added to the inline values
  helmfile  the environment values file keyed by chart name: NAME.image.tag
            (and NAME.initContainers.dbMigration.image.tag when set)

Only the changed values are rewritten: comments, key order and formatting stay
byte for byte. set-image refuses a dirty working tree and unknown names.
Pushing uses the same credentials as the daemon: DIGITOPS_GIT_USERNAME,
DIGITOPS_GIT_PASSWORD, DIGITOPS_GIT_BEARER_TOKEN or DIGITOPS_GIT_SSH_KEY_FILE
with DIGITOPS_GIT_KNOWN_HOSTS_FILE.`,
		Example: `  # What Jenkins deploy jobs did with IMAGES=egov-user:v2.9.3-4a1b2c3
  digitops set-image --repo ./DIGIT-DevOps egov-demo egov-user:v2.9.3-4a1b2c3

  # Several services, show the diff only
  digitops set-image dev pgr-services:1.4.2 egov-mdms-service:1.3.0 --dry-run

  # Commit without pushing (push yourself, e.g. to open a pull request)
  digitops set-image dev egov-user:v1.1.0 --no-push`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), g, s, args[0], args[1:])
		},
	}
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "print the diff and change nothing")
	cmd.Flags().BoolVar(&o.noPush, "no-push", false, "commit but do not push")
	cmd.Flags().StringVar(&o.remote, "remote", "origin", "remote to push to")
	cmd.Flags().StringVar(&o.file, "file", "", "helmfile layout: the environment values file to edit (default: found by chart name)")
	return cmd
}

func parseImageTags(args []string) ([]imageTag, error) {
	var out []imageTag
	seen := map[string]bool{}
	for _, a := range args {
		name, tag, ok := strings.Cut(a, ":")
		if !ok || name == "" || !tagPattern.MatchString(tag) {
			return nil, fmt.Errorf("invalid argument %q: want NAME:TAG, e.g. egov-user:v2.9.3-4a1b2c3", a)
		}
		if seen[name] {
			return nil, fmt.Errorf("%s is given twice", name)
		}
		seen[name] = true
		out = append(out, imageTag{name, tag})
	}
	return out, nil
}

func (o *setImageOptions) run(ctx context.Context, g *globalOptions, s streams, envName string, args []string) error {
	tags, err := parseImageTags(args)
	if err != nil {
		return err
	}
	if isRemote(g.repo) {
		return fmt.Errorf("set-image edits a local clone: clone %s and pass --repo DIR", g.repo)
	}
	repo, err := gogit.PlainOpenWithOptions(g.repo, &gogit.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return fmt.Errorf("unable to open the Git repository at %s: %w (set-image needs a clone; pass --repo DIR)", g.repo, err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		return fmt.Errorf("unable to open the working tree: %w", err)
	}
	if !o.dryRun {
		if err := checkClean(wt); err != nil {
			return err
		}
	}
	cfg, repoDir, err := loader.Config(loader.Options{RepoDir: g.repo, ConfigPath: g.config})
	if err != nil {
		return err
	}
	ec, err := cfg.Environment(envName)
	if err != nil {
		return err
	}
	files, err := o.edit(repoDir, cfg.Path, ec, tags)
	if err != nil {
		return err
	}
	var changed []*yamlFile
	for _, f := range files {
		if string(f.bytes()) != string(f.data) {
			changed = append(changed, f)
		}
	}
	if len(changed) == 0 {
		fmt.Fprintln(s.out, "Nothing to change: every tag is already set.")
		return nil
	}
	for _, f := range changed {
		if err := printFileDiff(s.out, repoDir, f); err != nil {
			return err
		}
	}
	if o.dryRun {
		return nil
	}
	root := wt.Filesystem.Root()
	for _, f := range changed {
		if err := os.WriteFile(f.path, f.bytes(), 0o644); err != nil {
			return fmt.Errorf("unable to write %s: %w", f.path, err)
		}
		rel, err := filepath.Rel(root, f.path)
		if err != nil {
			return err
		}
		if _, err := wt.Add(filepath.ToSlash(rel)); err != nil {
			return fmt.Errorf("unable to stage %s: %w", rel, err)
		}
	}
	msg := commitMessage(envName, tags)
	hash, err := wt.Commit(msg, &gogit.CommitOptions{Author: signature(repo)})
	if err != nil {
		return fmt.Errorf("unable to commit: %w", err)
	}
	fmt.Fprintf(s.out, "Committed %s: %s\n", hash.String()[:12], strings.SplitN(msg, "\n", 2)[0])
	if o.noPush {
		return nil
	}
	return push(ctx, s.out, repo, o.remote)
}

// checkClean refuses a working tree with changes: set-image commits only
// its own edit.
func checkClean(wt *gogit.Worktree) error {
	st, err := wt.Status()
	if err != nil {
		return fmt.Errorf("unable to read the working tree status: %w", err)
	}
	if st.IsClean() {
		return nil
	}
	var dirty []string
	for path := range st {
		dirty = append(dirty, path)
	}
	sort.Strings(dirty)
	if len(dirty) > 5 {
		dirty = append(dirty[:5], "...")
	}
	return fmt.Errorf("the working tree has uncommitted changes (%s): commit or stash them first, set-image commits only its own edit", strings.Join(dirty, ", "))
}

// edit computes the edits for the environment's layout.
func (o *setImageOptions) edit(repoDir, configPath string, ec manifest.EnvironmentConfig, tags []imageTag) ([]*yamlFile, error) {
	switch ec.EffectiveLayout() {
	case manifest.LayoutDigit:
		return editReleaseChart(repoDir, ec, tags)
	case manifest.LayoutNative:
		return editNative(configPath, ec, tags)
	case manifest.LayoutHelmfile:
		return o.editHelmfile(repoDir, ec, tags)
	}
	return nil, fmt.Errorf("environment %q: set-image does not support layout %q", ec.Name, ec.EffectiveLayout())
}

func readYAMLFile(path string) (*yamlFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("unable to read %s: %w", path, err)
	}
	return parseYAMLFile(path, data)
}

// unknownNames is the error for names the environment does not have.
func unknownNames(missing []string, where string, known []string) error {
	sort.Strings(known)
	return fmt.Errorf("unknown service(s) %s in %s; known: %s", strings.Join(missing, ", "), where, strings.Join(known, ", "))
}

// editReleaseChart sets repo/NAME:TAG and repo/NAME-db:TAG in the release chart.
func editReleaseChart(repoDir string, ec manifest.EnvironmentConfig, tags []imageTag) ([]*yamlFile, error) {
	if ec.ReleaseChart == "" {
		return nil, fmt.Errorf("environment %q has no releaseChart: set-image writes tags there", ec.Name)
	}
	path, err := manifest.RepoPath(repoDir, ec.ReleaseChart)
	if err != nil {
		return nil, err
	}
	f, err := readYAMLFile(path)
	if err != nil {
		return nil, err
	}
	want := map[string]string{}
	for _, t := range tags {
		want[t.name] = t.tag
		want[t.name+"-db"] = t.tag
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
	for _, t := range tags {
		if !found[t.name] {
			missing = append(missing, t.name)
		}
	}
	if len(missing) > 0 {
		return nil, unknownNames(missing, ec.ReleaseChart, keys(known))
	}
	return []*yamlFile{f}, nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// setTags sets image.tag, and initContainers.dbMigration.image.tag when the
// mapping has it, under m; insert adds image.tag when m has none.
func setTags(f *yamlFile, m *yaml.Node, tag string, insert bool) (bool, error) {
	n := lookup(m, "image", "tag")
	if n == nil {
		if !insert {
			return false, nil
		}
		if err := f.insertTag(m, tag); err != nil {
			return false, err
		}
	} else if err := f.setScalar(n, tag); err != nil {
		return false, err
	}
	if db := lookup(m, "initContainers", "dbMigration", "image", "tag"); db != nil {
		if err := f.setScalar(db, tag); err != nil {
			return false, err
		}
	}
	return true, nil
}

// editNative sets image.tag in the values of native releases.
func editNative(configPath string, ec manifest.EnvironmentConfig, tags []imageTag) ([]*yamlFile, error) {
	cfgFile, err := readYAMLFile(configPath)
	if err != nil {
		return nil, err
	}
	var releases *yaml.Node
	if envs := lookup(cfgFile.root, "environments"); envs != nil {
		for _, e := range envs.Content {
			if n := lookup(e, "name"); n != nil && n.Value == ec.Name {
				releases = lookup(e, "releases")
			}
		}
	}
	if releases == nil {
		return nil, fmt.Errorf("environment %q has no releases: list in %s", ec.Name, configPath)
	}
	repoDir := filepath.Dir(configPath)
	byPath := map[string]*yamlFile{configPath: cfgFile}
	var known, missing []string
	for _, t := range tags {
		var rel *yaml.Node
		for _, r := range releases.Content {
			if n := lookup(r, "name"); n != nil {
				if n.Value == t.name {
					rel = r
				}
				if len(known) < len(releases.Content) {
					known = append(known, n.Value)
				}
			}
		}
		if rel == nil {
			missing = append(missing, t.name)
			continue
		}
		if err := setNativeTag(repoDir, byPath, cfgFile, rel, t); err != nil {
			return nil, err
		}
	}
	if len(missing) > 0 {
		return nil, unknownNames(missing, configPath, known)
	}
	var out []*yamlFile
	for _, f := range byPath {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out, nil
}

// setNativeTag edits the last values item of rel that sets image.tag, else
// adds image.tag to its last inline values mapping.
func setNativeTag(repoDir string, byPath map[string]*yamlFile, cfgFile *yamlFile, rel *yaml.Node, t imageTag) error {
	values := lookup(rel, "values")
	var items []*yaml.Node
	switch {
	case values == nil:
	case values.Kind == yaml.SequenceNode:
		items = values.Content
	default:
		items = []*yaml.Node{values}
	}
	type target struct {
		f *yamlFile
		m *yaml.Node
	}
	var targets []target
	for _, it := range items {
		switch {
		case it.Kind == yaml.MappingNode:
			targets = append(targets, target{cfgFile, it})
		case it.Kind == yaml.ScalarNode:
			path, err := manifest.RepoPath(repoDir, it.Value)
			if err != nil {
				return err
			}
			f, ok := byPath[path]
			if !ok {
				if f, err = readYAMLFile(path); err != nil {
					return err
				}
				byPath[path] = f
			}
			targets = append(targets, target{f, f.root})
		}
	}
	for i := len(targets) - 1; i >= 0; i-- {
		if lookup(targets[i].m, "image", "tag") != nil {
			_, err := setTags(targets[i].f, targets[i].m, t.tag, false)
			return err
		}
	}
	for i := len(targets) - 1; i >= 0; i-- {
		if targets[i].f == cfgFile {
			_, err := setTags(cfgFile, targets[i].m, t.tag, true)
			return err
		}
	}
	return fmt.Errorf("release %q has no inline values and its values files set no image.tag: add `values: [{image: {tag: ...}}]` to it in %s once", t.name, cfgFile.path)
}

// editHelmfile sets NAME.image.tag in the environment values file.
func (o *setImageOptions) editHelmfile(repoDir string, ec manifest.EnvironmentConfig, tags []imageTag) ([]*yamlFile, error) {
	var f *yamlFile
	var err error
	if o.file != "" {
		path, err := manifest.RepoPath(repoDir, o.file)
		if err != nil {
			return nil, err
		}
		if f, err = readYAMLFile(path); err != nil {
			return nil, err
		}
	} else if f, err = findEnvValuesFile(repoDir, ec, tags[0].name); err != nil {
		return nil, err
	}
	var missing, known []string
	for i := 0; i+1 < len(f.root.Content); i += 2 {
		known = append(known, f.root.Content[i].Value)
	}
	for _, t := range tags {
		m := lookup(f.root, t.name)
		if m == nil || m.Kind != yaml.MappingNode {
			missing = append(missing, t.name)
			continue
		}
		if _, err := setTags(f, m, t.tag, true); err != nil {
			return nil, err
		}
	}
	if len(missing) > 0 {
		return nil, unknownNames(missing, f.path, known)
	}
	return []*yamlFile{f}, nil
}

// findEnvValuesFile finds the one values file under an environments
// directory beside the helmfile that has a top-level key name.
func findEnvValuesFile(repoDir string, ec manifest.EnvironmentConfig, name string) (*yamlFile, error) {
	helmfile, err := manifest.RepoPath(repoDir, ec.Helmfile)
	if err != nil {
		return nil, err
	}
	var found []*yamlFile
	err = filepath.WalkDir(filepath.Dir(helmfile), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(filepath.Dir(path)) != "environments" || strings.Contains(d.Name(), "secret") {
			return err
		}
		if ext := filepath.Ext(path); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		f, err := readYAMLFile(path)
		if err == nil && lookup(f.root, name) != nil {
			found = append(found, f)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("no environments/*.yaml beside %s has a %q key: pass --file with the environment values file", ec.Helmfile, name)
	}
	return nil, fmt.Errorf("%d environment values files have a %q key: pass --file to pick one", len(found), name)
}

// printFileDiff prints a unified diff of one edited file.
func printFileDiff(w io.Writer, repoDir string, f *yamlFile) error {
	name, err := filepath.Rel(repoDir, f.path)
	if err != nil {
		name = f.path
	}
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(string(f.data)), B: difflib.SplitLines(string(f.bytes())),
		FromFile: "a/" + name, ToFile: "b/" + name, Context: 3,
	})
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, text)
	return err
}

// commitMessage says what was deployed where, one service per line.
func commitMessage(env string, tags []imageTag) string {
	parts := make([]string, len(tags))
	for i, t := range tags {
		parts[i] = t.name + " " + t.tag
	}
	subject := fmt.Sprintf("deploy(%s): %s", env, strings.Join(parts, ", "))
	if len(subject) > 72 {
		subject = fmt.Sprintf("deploy(%s): %d images", env, len(tags))
	}
	var body strings.Builder
	for _, t := range tags {
		fmt.Fprintf(&body, "- %s: %s\n", t.name, t.tag)
	}
	return subject + "\n\n" + body.String() + "\nSet by digitops set-image.\n"
}

// signature is the commit author: the repository's Git identity, else
// GIT_AUTHOR_NAME/GIT_AUTHOR_EMAIL, else digitops.
func signature(repo *gogit.Repository) *object.Signature {
	sig := &object.Signature{Name: "digitops", Email: "digitops@localhost", When: time.Now()}
	if c, err := repo.ConfigScoped(config.GlobalScope); err == nil && c.User.Name != "" {
		sig.Name, sig.Email = c.User.Name, c.User.Email
	}
	if v := os.Getenv("GIT_AUTHOR_NAME"); v != "" {
		sig.Name = v
	}
	if v := os.Getenv("GIT_AUTHOR_EMAIL"); v != "" {
		sig.Email = v
	}
	return sig
}

// push pushes the current branch to remote with the source's credentials.
func push(ctx context.Context, w io.Writer, repo *gogit.Repository, remote string) error {
	r, err := repo.Remote(remote)
	if err != nil {
		return fmt.Errorf("no remote %q: %w (pass --remote, or --no-push)", remote, err)
	}
	auth, err := git.AuthFromEnv(os.LookupEnv)
	if err != nil {
		return err
	}
	url := r.Config().URLs[0]
	method, err := auth.Method(url)
	if err != nil {
		return err
	}
	head, err := repo.Head()
	if err != nil {
		return err
	}
	if !head.Name().IsBranch() {
		return errors.New("HEAD is detached: check out the branch to push, or pass --no-push")
	}
	spec := config.RefSpec(head.Name().String() + ":" + head.Name().String())
	err = repo.PushContext(ctx, &gogit.PushOptions{RemoteName: remote, RefSpecs: []config.RefSpec{spec}, Auth: method})
	switch {
	case errors.Is(err, gogit.NoErrAlreadyUpToDate):
	case err != nil && strings.Contains(err.Error(), "non-fast-forward"):
		return fmt.Errorf("the remote branch moved on: pull, then run set-image again (the commit is kept locally): %w", err)
	case err != nil:
		return fmt.Errorf("unable to push to %s: %w (the commit is kept locally)", git.SanitizeURL(url), err)
	}
	fmt.Fprintf(w, "Pushed %s to %s\n", head.Name().Short(), remote)
	return nil
}
