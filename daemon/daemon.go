package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/digitops/digitops/daemon/rollouts"
	"github.com/digitops/digitops/daemon/shard"
	"github.com/digitops/digitops/daemon/web"
	"github.com/digitops/digitops/metrics"
	"github.com/digitops/digitops/notify"
	"github.com/digitops/digitops/policy"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/git"
	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/sops"
)

// Defaults of Options.
const (
	DefaultListen        = ":8080"
	DefaultInterval      = time.Minute
	DefaultDriftInterval = 5 * time.Minute
	DefaultShutdownGrace = 30 * time.Second
	DefaultDebounce      = 500 * time.Millisecond
	// DefaultMaxConnections bounds the HTTP connections open at once.
	DefaultMaxConnections = 512
	// DefaultDriftDebounce gathers a burst of watch events (kubectl apply
	// of several fields, a rollout) into one drift check.
	DefaultDriftDebounce = time.Second
	DefaultJitter        = 0.1
	// DefaultRolloutTick is how often a rollout is looked at.
	DefaultRolloutTick = 5 * time.Second
)

// RolloutConfigMap names the ConfigMap of the home cluster holding the
// rollouts' state (one key per rollout, its JSON).
const RolloutConfigMap = rollouts.ConfigMap

// SourceOptions is one watched repository.
type SourceOptions struct {
	// URL is a Git URL (https, ssh, file://), a local Git repository, or a
	// local directory that is not a Git repository (read as it is).
	URL string
	// Ref is the --ref syntax of git.ParseRef; empty follows the remote HEAD.
	Ref string
	// ConfigPath is the digitops.yaml inside the repository; empty means the
	// repository root's.
	ConfigPath string
	// Environments limits the environments served; empty serves all of
	// the configuration's. Named environments get a loop (and a status)
	// even while the configuration cannot be read.
	Environments []string
	// Auth are the Git credentials.
	Auth git.Auth
}

// WebhookSecrets are the shared secrets of the webhook receivers
// (package web); a receiver without a secret answers 404.
type WebhookSecrets = web.WebhookSecrets

// ClusterFunc connects to the cluster an environment targets.
type ClusterFunc func(ctx context.Context, ref manifest.ClusterRef) (*kube.Cluster, error)

// Options configure a Daemon.
type Options struct {
	// Sources are the repositories to watch; at least one.
	Sources []SourceOptions
	// Listen is the HTTP address; DefaultListen when empty.
	Listen string
	// Listener, when set, is used instead of Listen (tests).
	Listener net.Listener
	// MaxConnections bounds the HTTP connections open at once (more wait
	// to be accepted); DefaultMaxConnections when zero.
	MaxConnections int
	// CacheDir holds Git caches and the suspension file. Required.
	CacheDir string
	// Secrets is manifest.SecretsDecrypt (default) or SecretsPlaceholder.
	Secrets manifest.SecretsMode
	// OpenSOPS decrypts SOPS files (sopslib.Open); nil decrypts none.
	OpenSOPS sops.Opener
	// MaxFileSize caps each file read from a repository; 0 means 16 MiB.
	MaxFileSize int64
	// HelmfileEnv are the environment variables (names or patterns)
	// helmfile templates may read (loader.Options.AllowEnv); none when
	// empty.
	HelmfileEnv []string
	// Policy is the operator's policy (serve --policy): an environment it
	// has no entry for, or whose cluster it refuses, is not planned; a
	// release outside it is an error step. nil allows everything.
	Policy *policy.Policy
	// Cluster connects to clusters; nil uses kubeconfigs (KubeconfigOverride
	// and ContextOverride win over the environment's cluster block).
	Cluster            ClusterFunc
	KubeconfigOverride string
	ContextOverride    string
	// Registry receives the metrics; a new one when nil. Go and process
	// collectors are added to it.
	Registry *prometheus.Registry
	// Webhooks are the receivers' secrets.
	Webhooks WebhookSecrets
	// APIToken, when set, is required as "Authorization: Bearer" on the
	// endpoints that change something (suspend, resume, retry, sync,
	// rollback, the rollouts' actions); without it they are refused.
	APIToken string
	// Home is the cluster the daemon runs in, where the Secrets of
	// cluster.kubeconfigSecret are read; nil: HomeConfig(KubeconfigOverride,
	// ContextOverride).
	Home *rest.Config
	// LeaderElection, when set, makes only the leader apply.
	LeaderElection *LeaderElection
	// Shard, when set, spreads the environments over the replicas
	// (serve --shard); it excludes LeaderElection.
	Shard *Sharding
	// StateNamespace is the home cluster namespace of the rollouts'
	// ConfigMap; empty: the Lease's namespace, else $POD_NAMESPACE, else
	// default.
	StateNamespace string
	// RolloutTick is how often rollouts are looked at;
	// DefaultRolloutTick when zero.
	RolloutTick time.Duration
	// Interval is the loop interval of an environment until its policy is
	// known, and the discovery interval of a source; DefaultInterval when zero.
	Interval time.Duration
	// DriftInterval is how often an environment is fully planned even when
	// neither its revision nor its live releases changed (this is when drift
	// is looked for); DefaultDriftInterval when zero.
	DriftInterval time.Duration
	// Jitter spreads every wait by ±Jitter of it; DefaultJitter when zero,
	// none when negative.
	Jitter float64
	// Debounce gathers webhook pushes arriving close together into one
	// sync; DefaultDebounce when zero.
	Debounce time.Duration
	// DebounceMaxWait is the longest a push waits for the pushes after it
	// before its sync starts; 4 × Debounce when zero.
	DebounceMaxWait time.Duration
	// DriftDebounce gathers the watch events of a release's objects
	// arriving close together into one drift check of that release;
	// DefaultDriftDebounce when zero.
	DriftDebounce time.Duration
	// ShutdownGrace is how long in-flight Helm actions may run after the
	// daemon is asked to stop; DefaultShutdownGrace when zero.
	ShutdownGrace time.Duration
	// NotifySecretsDir holds the secrets environments' notify entries name
	// (secretRef: a file name in it); empty: notifications that need a
	// secret are not sent.
	NotifySecretsDir string
	// StatusURL is the status page's address, linked from notifications
	// and commit statuses; none when empty.
	StatusURL string
	// Logger receives the logs; slog.Default() when nil.
	Logger *slog.Logger
}

// Daemon runs sync loops and serves the HTTP API. Build it with New, run
// it with Run.
type Daemon struct {
	opts     Options
	log      *slog.Logger
	registry *prometheus.Registry
	metrics  *metrics.Recorder
	sources  []*source
	suspends *suspensions
	leading  atomic.Bool
	ready    atomic.Bool
	// notifier sends notifications in the background.
	notifier *notify.Queue
	// rollouts moves the rollouts of every source (package rollouts).
	rollouts *rollouts.Manager
	// shard owns this replica's environments with --shard, nil without.
	shard *shard.Manager
	// rolloutsLeading is set, with --shard, while this replica holds the
	// rollouts' Lease; rolloutsLeader is the holder's identity.
	rolloutsLeading atomic.Bool
	rolloutsLeader  atomic.Value // string
	// peers caches the statuses read from the other replicas (--shard);
	// peerClient reads them (no redirects followed).
	peers      peerCache
	peerClient *http.Client

	mu       sync.Mutex
	envs     map[string]*envLoop  // by environment name
	clusters map[string]connected // by kubeconfig and context, or Secret
	// secretKeys is the clusters key each kubeconfigSecret connected
	// with, so that a rotated kubeconfig's old connection is closed.
	secretKeys map[manifest.SecretKeyRef]string

	homeOnce sync.Once
	home     kubernetes.Interface
	homeErr  error
	// handler is the HTTP API (package web), built on the first call of
	// Handler.
	handlerOnce sync.Once
	handler     http.Handler
	// limits bound what HTTP clients can hold.
	limits web.Limits
}

// New validates opts and prepares the sources. It does no network I/O.
func New(opts Options) (*Daemon, error) {
	if len(opts.Sources) == 0 {
		return nil, errors.New("daemon: no source to watch")
	}
	if opts.CacheDir == "" {
		return nil, errors.New("daemon: CacheDir is required")
	}
	if opts.Listen == "" {
		opts.Listen = DefaultListen
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.DriftInterval <= 0 {
		opts.DriftInterval = DefaultDriftInterval
	}
	if opts.Jitter == 0 {
		opts.Jitter = DefaultJitter
	}
	if opts.DriftDebounce <= 0 {
		opts.DriftDebounce = DefaultDriftDebounce
	}
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.DebounceMaxWait <= 0 {
		opts.DebounceMaxWait = 4 * opts.Debounce
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = DefaultMaxConnections
	}
	if opts.RolloutTick <= 0 {
		opts.RolloutTick = DefaultRolloutTick
	}
	if opts.ShutdownGrace <= 0 {
		opts.ShutdownGrace = DefaultShutdownGrace
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
		opts.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("unable to create cache directory %q: %w", opts.CacheDir, err)
	}
	d := &Daemon{
		opts:       opts,
		log:        opts.Logger,
		registry:   opts.Registry,
		metrics:    metrics.New(opts.Registry),
		envs:       map[string]*envLoop{},
		clusters:   map[string]connected{},
		secretKeys: map[manifest.SecretKeyRef]string{},
		limits:     web.DefaultLimits(opts.MaxConnections),
		peerClient: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
	if opts.Shard != nil {
		if opts.LeaderElection != nil {
			return nil, errors.New("daemon: --shard and --leader-elect exclude each other")
		}
		var err error
		if d.shard, err = d.newShard(opts.Shard); err != nil {
			return nil, err
		}
	}
	d.notifier = notify.NewQueue(notify.QueueOptions{Count: d.metrics.Notification, Log: opts.Logger})
	d.rollouts = rollouts.New(rollouts.Options{
		Home:         d.homeClient,
		Namespace:    d.stateNamespace(),
		Tick:         opts.RolloutTick,
		Leading:      d.leadsRollouts,
		Environments: rolloutEnvironments{d},
		Metrics:      d.metrics,
		Log:          d.log,
	})
	var err error
	if d.suspends, err = loadSuspensions(filepath.Join(opts.CacheDir, "suspended.json")); err != nil {
		return nil, err
	}
	if s := opts.Shard; s != nil {
		group := s.Group
		if group == "" {
			group = "digitops"
		}
		d.suspends.home = &homeSuspensions{client: s.Client, namespace: s.Namespace, name: group + "-suspensions"}
	}
	for _, so := range opts.Sources {
		s, err := newSource(so, filepath.Join(opts.CacheDir, "git"), d.log)
		if err != nil {
			return nil, err
		}
		s.moved = func(ctx context.Context, from string, to git.Snapshot) { d.sourceMoved(ctx, s, from, to) }
		d.sources = append(d.sources, s)
	}
	d.leading.Store(opts.LeaderElection == nil)
	return d, nil
}

// Handler is the daemon's HTTP API (also served by Run): package web's
// handlers on the daemon's state (api.go). It is built on the first call,
// with the options of that moment.
func (d *Daemon) Handler() http.Handler {
	d.handlerOnce.Do(func() {
		d.handler = web.NewHandler(webBackend{d}, web.Options{Registry: d.registry, APIToken: d.opts.APIToken, Webhooks: d.opts.Webhooks, Log: d.log})
	})
	return d.handler
}

// Run syncs and serves until ctx is cancelled, then stops taking work,
// lets in-flight Helm actions finish for up to ShutdownGrace, and returns.
// The actors (HTTP server, sync loops, leader elector) run in one group: the
// first to return stops the others.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.closeClusters()
	var g run.Group
	{ // the caller's cancellation
		ctx, cancel := context.WithCancel(ctx)
		g.Add(func() error {
			<-ctx.Done()
			return nil
		}, func(error) { cancel() })
	}
	{ // the HTTP server
		ln := d.opts.Listener
		srv := web.NewServer(d.Handler(), d.limits)
		g.Add(func() error {
			if ln == nil {
				var err error
				if ln, err = net.Listen("tcp", d.opts.Listen); err != nil {
					return fmt.Errorf("unable to listen on %q: %w", d.opts.Listen, err)
				}
			}
			d.log.Info("serving", "address", ln.Addr().String(), "maxConnections", d.limits.MaxConns)
			if err := srv.Serve(web.LimitListener(ln, d.limits)); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		}, func(error) {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
		})
	}
	loopsDone := make(chan struct{})
	{ // notifications: the loops' last events are sent before stopping
		send, stop := context.WithCancel(context.WithoutCancel(ctx))
		g.Add(func() error {
			err := d.notifier.Run(send)
			flush, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyFlushTimeout)
			defer cancel()
			d.notifier.Flush(flush)
			return err
		}, func(error) {
			go func() { <-loopsDone; stop() }()
		})
	}
	{ // the sync loops
		work, stop := context.WithCancel(context.WithoutCancel(ctx))
		g.Add(func() error {
			defer close(loopsDone)
			return d.runSources(work)
		}, func(error) { stop() })
	}
	if d.shard != nil {
		work, stop := context.WithCancel(context.WithoutCancel(ctx))
		g.Add(func() error {
			var wg sync.WaitGroup
			wg.Go(func() { d.runRolloutElection(work, d.opts.Shard) })
			// Ownership ends after the loops' in-flight actions (the
			// grace period), then the Leases are released.
			d.shard.Run(work, d.opts.ShutdownGrace)
			wg.Wait()
			return nil
		}, func(error) { stop() })
	}
	if le := d.opts.LeaderElection; le != nil {
		elect, stop := context.WithCancel(context.WithoutCancel(ctx))
		g.Add(func() error {
			return d.runElection(elect, le)
		}, func(error) { stop() })
	}
	return g.Run()
}

// notifyFlushTimeout bounds how long a stopping daemon sends the
// notifications still queued.
const notifyFlushTimeout = 5 * time.Second

// runSources runs every source (and through it every environment loop)
// until work is cancelled. Helm actions get a context that outlives work by
// the shutdown grace period.
func (d *Daemon) runSources(work context.Context) error {
	applyCtx, cancelApply := context.WithCancel(context.WithoutCancel(work))
	defer cancelApply()
	done := make(chan struct{})
	go func() {
		select {
		case <-work.Done():
		case <-done:
			return
		}
		d.log.Info("stopping: no new work; waiting for in-flight actions", "grace", d.opts.ShutdownGrace)
		t := time.NewTimer(d.opts.ShutdownGrace)
		defer t.Stop()
		select {
		case <-t.C:
			d.log.Warn("shutdown grace period over: cancelling in-flight actions")
			cancelApply()
		case <-done:
		}
	}()
	var wg sync.WaitGroup
	for _, s := range d.sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.runSource(work, applyCtx, s)
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.rollouts.Run(work, s)
		}()
	}
	wg.Wait()
	close(done)
	return nil
}

// environment returns the loop of the named environment.
func (d *Daemon) environment(name string) (*envLoop, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, ok := d.envs[name]
	return l, ok
}

// loops returns the environment loops sorted by name.
func (d *Daemon) loops() []*envLoop {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]*envLoop, 0, len(d.envs))
	for _, l := range d.envs {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// leadsRollouts reports whether this replica moves the rollouts: the
// leader, or with --shard the holder of the rollouts' Lease.
func (d *Daemon) leadsRollouts() bool {
	if d.shard != nil {
		return d.rolloutsLeading.Load()
	}
	return d.leading.Load()
}

// stateNamespace is where the rollouts' ConfigMap lives: StateNamespace,
// else the Lease's namespace, else $POD_NAMESPACE, else default.
func (d *Daemon) stateNamespace() string {
	switch {
	case d.opts.StateNamespace != "":
		return d.opts.StateNamespace
	case d.opts.LeaderElection != nil:
		return d.opts.LeaderElection.Namespace
	case d.opts.Shard != nil:
		return d.opts.Shard.Namespace
	case os.Getenv("POD_NAMESPACE") != "":
		return os.Getenv("POD_NAMESPACE")
	}
	return metav1.NamespaceDefault
}
