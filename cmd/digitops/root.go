package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	helmkube "helm.sh/helm/v3/pkg/kube"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/klog/v2"

	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/helmfile"
	"github.com/digitops/digitops/source/manifest/loader"
	"github.com/digitops/digitops/source/manifest/sops/sopslib"
)

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, s streams) int {
	// Helm names its field manager after the executable unless told: pin
	// it, so that a renamed binary (a package's digitops-v2) does not see
	// every field a release set as changed by another manager.
	helmkube.ManagedFieldsManager = drift.FieldManager
	root := newRootCommand(s)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		err = ee.err
	}
	if err != nil {
		// One line: errors joined by a layout (one per bad line of a
		// file) are listed with "; ".
		fmt.Fprintf(s.err, "digitops: error: %s\n", strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; "))
	}
	return code
}

// globalOptions are the flags every command shares.
type globalOptions struct {
	repo       string
	ref        string
	config     string
	env        string
	kubeconfig string
	context    string
	output     string
	secrets    manifest.SecretsMode
	verbose    bool
	// maxFileSize caps each file read from the repository ("16Mi").
	maxFileSize  string
	maxFileBytes int64
	// helmfileEnv are the variables helmfile templates may read (names or
	// patterns); none by default.
	helmfileEnv []string
}

func newRootCommand(s streams) *cobra.Command {
	opts := &globalOptions{}
	root := &cobra.Command{
		Use:   "digitops",
		Short: "GitOps for Helm-based platforms such as DIGIT",
		Long: `digitops reads environment repositories (DIGIT-DevOps layouts, helmfile, or its
own digitops.yaml), plans Helm releases against a live cluster and applies them
in dependency order.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&opts.repo, "repo", ".", "environment repository: a local directory or a Git URL (https://, ssh://, git@host:path, file://)")
	pf.StringVar(&opts.ref, "ref", "", "Git reference: a branch, tag, semver:RANGE, sha1:COMMIT or refs/NAME (fetches --repo with go-git)")
	pf.StringVar(&opts.config, "config", "", "configuration file (default digitops.yaml at the repository root; relative to the current directory for a local --repo, to the checkout for a Git URL)")
	pf.StringVarP(&opts.env, "env", "e", "", "environment name from the configuration")
	pf.StringVar(&opts.kubeconfig, "kubeconfig", "", "kubeconfig file (default $KUBECONFIG or ~/.kube/config)")
	pf.StringVar(&opts.context, "context", "", "kubeconfig context (default: the environment's, else the current one)")
	pf.StringVarP(&opts.output, "output", "o", "text", "output format: text, json or markdown")
	pf.StringVar((*string)(&opts.secrets), "secrets", string(manifest.SecretsDecrypt), "secrets handling: decrypt or placeholder")
	pf.BoolVarP(&opts.verbose, "verbose", "v", false, "log Helm's debug output")
	pf.StringVar(&opts.maxFileSize, "max-file-size", "16Mi", "largest file read from the repository (values, charts, environment files); a larger one is an error")
	pf.StringSliceVar(&opts.helmfileEnv, "helmfile-env", nil, "environment variables helmfile templates may read with env and requiredEnv: NAME,... or patterns such as CI_*; none by default (any other reads as unset)")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		level := slog.LevelInfo
		if opts.verbose {
			level = slog.LevelDebug
		}
		logger := slog.New(slog.NewTextHandler(s.err, &slog.HandlerOptions{Level: level}))
		slog.SetDefault(logger)
		klog.SetSlogLogger(logger)
		q, err := resource.ParseQuantity(opts.maxFileSize)
		if err != nil || q.Value() <= 0 {
			return fmt.Errorf("--max-file-size %q: want a positive size such as 16Mi", opts.maxFileSize)
		}
		opts.maxFileBytes = q.Value()
		if err := helmfile.CheckAllowEnv(opts.helmfileEnv); err != nil {
			return fmt.Errorf("--helmfile-env: %w", err)
		}
		switch opts.secrets {
		case manifest.SecretsDecrypt, manifest.SecretsPlaceholder:
		default:
			return fmt.Errorf("--secrets %q: want %s or %s", opts.secrets, manifest.SecretsDecrypt, manifest.SecretsPlaceholder)
		}
		return nil
	}
	root.AddCommand(
		newApplyCommand(opts, s),
		newPlanCommand(opts, s),
		newVersionCommand(s),
		newRenderCommand(opts, s),
		newStatusCommand(opts, s),
		newSetImageCommand(opts, s),
		newCompletionCommand(s),
		newServeCommand(opts, s),
	)
	root.AddCommand(newRolloutCommand(s), newHistoryCommand(opts, s), newRollbackCommand(s))
	for _, v := range daemonVerbs() {
		root.AddCommand(newDaemonVerbCommand(s, v))
	}
	return root
}

// configPath is --config as the loader takes it: with a local --repo, a
// relative path is relative to the current directory like every other path
// flag; with a Git URL it names a file of the checkout.
func (o *globalOptions) configPath() string {
	if o.config == "" || filepath.IsAbs(o.config) || isRemote(o.repo) || o.ref != "" {
		return o.config
	}
	if abs, err := filepath.Abs(o.config); err == nil {
		return abs
	}
	return o.config
}

// loadEnvironment checks out --repo at --ref and loads the environment named
// by --env (or the only one). It returns what it read it from.
func (o *globalOptions) loadEnvironment(ctx context.Context) (*manifest.Environment, checkedOut, error) {
	co, err := o.checkout(ctx)
	if err != nil {
		return nil, co, err
	}
	dir := co.dir
	opts := loader.Options{RepoDir: dir, ConfigPath: o.configPath(), Secrets: o.secrets, OpenSOPS: sopslib.Open, MaxFileSize: o.maxFileBytes, AllowEnv: o.helmfileEnv}
	if o.env == "" {
		cfg, _, err := loader.Config(opts)
		if err != nil {
			return nil, co, err
		}
		if len(cfg.Environments) != 1 {
			names := cfg.EnvironmentNames()
			return nil, co, fmt.Errorf("%s has %d environments (%s): pick one with --env", cfg.Path, len(names), strings.Join(names, ", "))
		}
		o.env = cfg.Environments[0].Name
	}
	env, err := loader.Environment(ctx, opts, o.env)
	if err != nil {
		return nil, co, err
	}
	if dir == o.repo {
		// Read as it is, not from a commit.
		if w, ok := ignoredChartsWarning(dir, env); ok {
			env.Warnings = append(env.Warnings, w)
		}
	}
	return env, co, nil
}

// cluster connects to the environment's cluster; flags win over the
// environment's cluster block.
func (o *globalOptions) cluster(env *manifest.Environment) (*kube.Cluster, error) {
	opts := kube.ClusterOptions{Kubeconfig: env.Cluster.Kubeconfig, Context: env.Cluster.Context}
	if o.kubeconfig != "" {
		opts.Kubeconfig = o.kubeconfig
	}
	if o.context != "" {
		opts.Context = o.context
	}
	return kube.NewClusterFromKubeconfig(opts)
}
