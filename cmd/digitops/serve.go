package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/digitops/digitops/daemon"
	"github.com/digitops/digitops/internal/httpurl"
	"github.com/digitops/digitops/policy"
	"github.com/digitops/digitops/source/git"
	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/sops/sopslib"
)

type serveOptions struct {
	listen           string
	cacheDir         string
	interval         time.Duration
	driftInterval    time.Duration
	driftDebounce    time.Duration
	notifySecretsDir string
	statusURL        string
	shutdownGrace    time.Duration
	logFormat        string
	leaderElect      bool
	leaseNamespace   string
	leaseName        string
	shard            bool
	identity         string
	advertise        string
	leaseDuration    time.Duration
	githubSecret     string
	gitlabSecret     string
	genericSecret    string
	apiTokenFile     string
	sources          []string
	policy           string
}

func newServeCommand(g *globalOptions, s streams) *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Keep every environment of a repository in sync, continuously",
		Long: `serve watches the repository and keeps each of its environments in sync, one
loop per environment. It serves /metrics, /healthz, /readyz, /api/v1/status,
webhook receivers under /hooks/ (github, gitlab, generic) and a status page at /.

Webhook secrets come from files or from the environment variables
DIGITOPS_GITHUB_WEBHOOK_SECRET, DIGITOPS_GITLAB_WEBHOOK_TOKEN and
DIGITOPS_WEBHOOK_SECRET; the API token (for the mutating endpoints) from
--api-token-file or DIGITOPS_API_TOKEN. Git credentials come from the
DIGITOPS_GIT_* environment variables.`,
		Example: `  # Serve every environment of a Git repository
  digitops serve --repo https://github.com/egovernments/DIGIT-DevOps --ref master

  # A second repository, at its own branch, beside the first
  digitops serve --repo https://git.example.org/envs.git --source https://git.example.org/team-envs.git#release

  # Two replicas, only one applies
  digitops serve --repo https://git.example.org/envs.git --leader-elect --leader-election-namespace digitops`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger := newLogger(s, o.logFormat, g.verbose)
			opts, err := o.daemonOptions(cmd.Context(), g, logger)
			if err != nil {
				return err
			}
			d, err := daemon.New(opts)
			if err != nil {
				return err
			}
			return d.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", daemon.DefaultListen, "HTTP address for metrics, probes, status, webhooks")
	f.StringVar(&o.cacheDir, "cache-dir", "", "Git caches and the suspension file (default the user cache dir)")
	f.DurationVar(&o.interval, "interval", daemon.DefaultInterval, "loop interval until an environment's sync.interval is known; discovery interval")
	f.DurationVar(&o.driftInterval, "drift-interval", daemon.DefaultDriftInterval, "plan fully (looking for drift) at least this often even when nothing changed")
	f.DurationVar(&o.driftDebounce, "drift-debounce", daemon.DefaultDriftDebounce, "check a release for drift this long after a watched object of it changed (gathers a burst of events)")
	f.DurationVar(&o.shutdownGrace, "shutdown-grace", daemon.DefaultShutdownGrace, "how long in-flight Helm actions may run after SIGTERM")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.BoolVar(&o.leaderElect, "leader-elect", false, "apply only while holding a Lease (for several replicas)")
	f.StringVar(&o.leaseNamespace, "leader-election-namespace", "", "namespace of the Lease (default $POD_NAMESPACE, else digitops-system)")
	f.StringVar(&o.leaseName, "leader-election-name", "digitops", "name of the Lease (with --shard: the shard group, naming its Leases)")
	f.BoolVar(&o.shard, "shard", false, "spread the environments over the replicas through Leases (excludes --leader-elect)")
	f.StringVar(&o.identity, "identity", "", "this replica's name with --shard (default $POD_NAME, else the host name)")
	f.StringVar(&o.advertise, "advertise-url", "", "the URL other replicas reach this one's API at, with --shard (default http://$POD_IP:<listen port>)")
	f.DurationVar(&o.leaseDuration, "shard-lease-duration", 0, "with --shard, how long an environment stays owned without renewal (default 30s; renewed every third of it)")
	f.StringVar(&o.githubSecret, "github-webhook-secret-file", "", "file holding the GitHub webhook secret")
	f.StringVar(&o.gitlabSecret, "gitlab-webhook-token-file", "", "file holding the GitLab webhook token")
	f.StringVar(&o.genericSecret, "webhook-secret-file", "", "file holding the generic webhook HMAC secret")
	f.StringVar(&o.notifySecretsDir, "notify-secrets-dir", "", "directory of the secrets digitops.yaml's notify entries name (secretRef: a file in it)")
	f.StringVar(&o.statusURL, "status-url", "", "the status page's public address, linked from notifications and commit statuses")
	f.StringVar(&o.apiTokenFile, "api-token-file", "", "file holding the bearer token required by the API's mutating endpoints (suspend, resume, retry, sync, rollback, rollouts)")
	f.StringVar(&o.policy, "policy", "", policyFlagUsage)
	f.StringArrayVar(&o.sources, "source", nil, "another repository to watch beside --repo, as URL or URL#REF (repeatable; same --config path; all its environments)")
	return cmd
}

// daemonOptions turns the flags into daemon.Options.
func (o *serveOptions) daemonOptions(ctx context.Context, g *globalOptions, logger *slog.Logger) (daemon.Options, error) {
	cache := o.cacheDir
	if cache == "" {
		var err error
		if cache, err = cacheDir("serve"); err != nil {
			return daemon.Options{}, err
		}
	}
	auth, err := git.AuthFromEnv(os.LookupEnv)
	if err != nil {
		return daemon.Options{}, err
	}
	if g.secrets == manifest.SecretsPlaceholder {
		return daemon.Options{}, errors.New("serve applies: it needs the real secrets; drop --secrets=placeholder (and provide the SOPS key)")
	}
	url, err := sourceURL(g.repo)
	if err != nil {
		return daemon.Options{}, err
	}
	src := daemon.SourceOptions{URL: url, Ref: g.ref, ConfigPath: g.config, Auth: auth}
	if g.env != "" {
		src.Environments = strings.Split(g.env, ",")
	}
	sources := []daemon.SourceOptions{src}
	for _, extra := range o.sources {
		location, ref, _ := strings.Cut(extra, "#")
		if location == "" {
			return daemon.Options{}, fmt.Errorf("--source %q names no repository: use URL or URL#REF", extra)
		}
		url, err := sourceURL(location)
		if err != nil {
			return daemon.Options{}, err
		}
		sources = append(sources, daemon.SourceOptions{URL: url, Ref: ref, ConfigPath: g.config, Auth: auth})
	}
	// Read once, at start: a bad file stops serve before it syncs anything.
	var pol *policy.Policy
	if o.policy != "" {
		if pol, err = policy.Read(ctx, o.policy); err != nil {
			return daemon.Options{}, err
		}
	}
	opts := daemon.Options{
		Policy:             pol,
		Sources:            sources,
		Listen:             o.listen,
		CacheDir:           cache,
		Secrets:            g.secrets,
		OpenSOPS:           sopslib.Open,
		MaxFileSize:        g.maxFileBytes,
		HelmfileEnv:        g.helmfileEnv,
		KubeconfigOverride: g.kubeconfig,
		ContextOverride:    g.context,
		Interval:           o.interval,
		DriftInterval:      o.driftInterval,
		DriftDebounce:      o.driftDebounce,
		NotifySecretsDir:   o.notifySecretsDir,
		StatusURL:          o.statusURL,
		ShutdownGrace:      o.shutdownGrace,
		Logger:             logger,
	}
	secrets := []struct {
		file, env string
		dst       *string
	}{
		{o.githubSecret, "DIGITOPS_GITHUB_WEBHOOK_SECRET", &opts.Webhooks.GitHub},
		{o.gitlabSecret, "DIGITOPS_GITLAB_WEBHOOK_TOKEN", &opts.Webhooks.GitLab},
		{o.genericSecret, "DIGITOPS_WEBHOOK_SECRET", &opts.Webhooks.Generic},
		{o.apiTokenFile, "DIGITOPS_API_TOKEN", &opts.APIToken},
	}
	for _, sc := range secrets {
		if *sc.dst, err = secretFrom(sc.file, sc.env); err != nil {
			return daemon.Options{}, err
		}
	}
	if o.leaderElect && o.shard {
		return daemon.Options{}, fmt.Errorf("--shard and --leader-elect exclude each other: with --shard every replica acts, each on its own environments")
	}
	if o.leaderElect {
		le, err := o.leaderElection(g)
		if err != nil {
			return daemon.Options{}, err
		}
		opts.LeaderElection = le
	}
	if o.shard {
		sh, err := o.sharding(g)
		if err != nil {
			return daemon.Options{}, err
		}
		opts.Shard = sh
	}
	return opts, nil
}

// sharding configures --shard: the Leases live in the cluster the daemon
// runs in (else the --kubeconfig/--context one), in the namespace of
// --leader-election-namespace.
func (o *serveOptions) sharding(g *globalOptions) (*daemon.Sharding, error) {
	cfg, err := daemon.HomeConfig(g.kubeconfig, g.context)
	if err != nil {
		return nil, fmt.Errorf("unable to configure the shard client: %w", err)
	}
	// One Lease renewal per owned environment every renew interval.
	cfg.QPS, cfg.Burst = 50, 100
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	id := o.identity
	if id == "" {
		id = os.Getenv("POD_NAME")
	}
	if id == "" {
		if id, err = os.Hostname(); err != nil {
			return nil, fmt.Errorf("--shard needs --identity: %w", err)
		}
	}
	addr := o.advertise
	if addr == "" {
		_, port, err := net.SplitHostPort(o.listen)
		if err != nil {
			return nil, fmt.Errorf("--listen %q: %w", o.listen, err)
		}
		host := os.Getenv("POD_IP")
		if host == "" {
			return nil, errors.New("--shard needs --advertise-url (or $POD_IP): the other replicas forward status reads and actions to this one")
		}
		addr = "http://" + net.JoinHostPort(host, port)
	}
	if _, ok := httpurl.Parse(addr); !ok {
		return nil, fmt.Errorf("--advertise-url %q is not an http(s) URL", addr)
	}
	sh := &daemon.Sharding{Client: client, Namespace: o.leaseNamespaceOrDefault(), Group: o.leaseName, Identity: id, Address: strings.TrimSuffix(addr, "/")}
	if o.leaseDuration > 0 {
		sh.LeaseDuration, sh.RenewInterval = o.leaseDuration, o.leaseDuration/3
		sh.RetryPeriod = min(shardRetry, sh.RenewInterval/2)
	}
	return sh, nil
}

// shardRetry is how often a replica looks at the shard Leases with
// --shard-lease-duration.
const shardRetry = 2 * time.Second

// leaseNamespaceOrDefault is --leader-election-namespace, else
// $POD_NAMESPACE, else digitops-system.
func (o *serveOptions) leaseNamespaceOrDefault() string {
	if o.leaseNamespace != "" {
		return o.leaseNamespace
	}
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	return "digitops-system"
}

// sourceURL is a repository location as the daemon takes it: a Git URL as
// it is, a local directory made absolute.
func sourceURL(location string) (string, error) {
	if isRemote(location) {
		return location, nil
	}
	abs, err := filepath.Abs(location)
	if err != nil {
		return "", fmt.Errorf("unable to resolve repository %q: %w", location, err)
	}
	return abs, nil
}

// leaderElection connects to the cluster holding the Lease: the one the
// daemon runs in, else the --kubeconfig/--context one.
func (o *serveOptions) leaderElection(g *globalOptions) (*daemon.LeaderElection, error) {
	cfg, err := daemon.HomeConfig(g.kubeconfig, g.context)
	if err != nil {
		return nil, fmt.Errorf("unable to configure the leader election client: %w", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &daemon.LeaderElection{Client: client, Namespace: o.leaseNamespaceOrDefault(), Name: o.leaseName, Identity: os.Getenv("POD_NAME")}, nil
}

// secretFrom reads a secret from file, else from the environment variable.
func secretFrom(file, env string) (string, error) {
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("unable to read secret file: %w", err)
		}
		return strings.TrimSpace(string(data)), nil
	}
	return os.Getenv(env), nil
}

// newLogger builds the daemon's logger and routes klog into it.
func newLogger(s streams, format string, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(s.err, hopts)
	if format == "json" {
		h = slog.NewJSONHandler(s.err, hopts)
	}
	logger := slog.New(h)
	slog.SetDefault(logger)
	klog.SetSlogLogger(logger)
	return logger
}
