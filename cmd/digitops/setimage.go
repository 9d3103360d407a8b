package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/spf13/cobra"

	"github.com/digitops/digitops/source/edit"
	"github.com/digitops/digitops/source/git"
	"github.com/digitops/digitops/source/manifest/loader"
)

type setImageOptions struct {
	dryRun bool
	noPush bool
	remote string
	file   string
}

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

func parseImageTags(args []string) ([]edit.Image, error) {
	var out []edit.Image
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
		out = append(out, edit.Image{Name: name, Tag: tag})
	}
	return out, nil
}

func (o *setImageOptions) run(ctx context.Context, g *globalOptions, s streams, envName string, args []string) error {
	images, err := parseImageTags(args)
	if err != nil {
		return err
	}
	if isRemote(g.repo) {
		return fmt.Errorf("set-image edits a local clone: clone %s and pass --repo DIR", g.repo)
	}
	wt, err := git.OpenWorktree(g.repo)
	if errors.Is(err, git.ErrNotGitRepository) {
		return fmt.Errorf("%w (set-image needs a clone; pass --repo DIR)", err)
	}
	if err != nil {
		return err
	}
	if !o.dryRun {
		err := wt.CheckClean()
		if errors.Is(err, git.ErrDirtyWorktree) {
			return fmt.Errorf("%w: commit or stash them first, set-image commits only its own edit", err)
		}
		if err != nil {
			return err
		}
	}
	cfg, repoDir, err := loader.Config(loader.Options{RepoDir: g.repo, ConfigPath: g.config, MaxFileSize: g.maxFileBytes})
	if err != nil {
		return err
	}
	ec, err := cfg.Environment(envName)
	if err != nil {
		return err
	}
	files, err := edit.SetImageTags(ctx, edit.Options{RepoDir: repoDir, ConfigPath: cfg.Path, Env: ec, File: o.file, MaxFileSize: g.maxFileBytes}, images)
	if err != nil {
		return err
	}
	var changed []*edit.File
	for _, f := range files {
		if f.Changed() {
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
	paths := make([]string, len(changed))
	for i, f := range changed {
		if err := f.Write(); err != nil {
			return err
		}
		paths[i] = f.Path
	}
	msg := edit.CommitMessage(envName, images)
	hash, err := wt.Commit(paths, msg)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "Committed %s: %s\n", hash[:12], strings.SplitN(msg, "\n", 2)[0])
	if o.noPush {
		return nil
	}
	auth, err := git.AuthFromEnv(os.LookupEnv)
	if err != nil {
		return err
	}
	branch, err := wt.Push(ctx, o.remote, auth)
	switch {
	case errors.Is(err, git.ErrNoRemote):
		return fmt.Errorf("%w (pass --remote, or --no-push)", err)
	case errors.Is(err, git.ErrDetachedHead):
		return fmt.Errorf("%w: check out the branch to push, or pass --no-push", err)
	case errors.Is(err, git.ErrRemoteMoved):
		return fmt.Errorf("the remote branch moved on: pull, then run set-image again (the commit is kept locally): %w", err)
	case err != nil:
		return err
	}
	fmt.Fprintf(s.out, "Pushed %s to %s\n", branch, o.remote)
	return nil
}

// printFileDiff prints a unified diff of one edited file.
func printFileDiff(w io.Writer, repoDir string, f *edit.File) error {
	name, err := filepath.Rel(repoDir, f.Path)
	if err != nil {
		name = f.Path
	}
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(string(f.Original())), B: difflib.SplitLines(string(f.Bytes())),
		FromFile: "a/" + name, ToFile: "b/" + name, Context: 3,
	})
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, text)
	return err
}
