package kube

import (
	"fmt"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/chartutil"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Cluster is one target cluster: its REST config and the clients digitops
// shares between all releases of that cluster.
type Cluster struct {
	// Config is the REST config of the cluster.
	Config *rest.Config
	// Clientset is a typed client.
	Clientset kubernetes.Interface
	// Metadata is a metadata-only client, for cheap lists.
	Metadata metadata.Interface
	// Dynamic reads objects of any kind (a takeover's live objects).
	Dynamic dynamic.Interface

	discovery discovery.CachedDiscoveryInterface
	mapper    meta.RESTMapper

	mu       sync.Mutex
	getters  map[string]*restGetter
	requests *RequestCounter

	capsMu sync.Mutex
	caps   *chartutil.Capabilities
	capsAt time.Time
}

// ClusterOptions locate a cluster through a kubeconfig.
type ClusterOptions struct {
	// Kubeconfig is a kubeconfig file; empty means $KUBECONFIG or ~/.kube/config.
	Kubeconfig string
	// Context is a context in that file; empty means the current one.
	Context string
}

// NewClusterFromKubeconfig builds a Cluster from a kubeconfig.
func NewClusterFromKubeconfig(opts ClusterOptions) (*Cluster, error) {
	cfg, err := LoadKubeconfig(opts)
	if err != nil {
		return nil, err
	}
	return NewCluster(cfg)
}

// LoadKubeconfig returns the REST config of a kubeconfig's context, with
// the default loading rules ($KUBECONFIG, ~/.kube/config) when opts names
// no file.
func LoadKubeconfig(opts ClusterOptions) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if opts.Kubeconfig != "" {
		rules.ExplicitPath = opts.Kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: opts.Context}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("unable to load kubeconfig: %w (pass --kubeconfig and --context, or set KUBECONFIG)", err)
	}
	return cfg, nil
}

// NewCluster builds a Cluster from a REST config.
func NewCluster(cfg *rest.Config) (*Cluster, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 {
		// The apiserver's priority and fairness protects it; a client-side
		// limit as low as client-go's default would make a drift check of a
		// few hundred objects wait on its own token bucket.
		cfg.QPS = 100
		cfg.Burst = 300
	}
	requests := NewRequestCounter()
	cfg.Wrap(requests.Wrap)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("unable to create Kubernetes client: %w", err)
	}
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("unable to create metadata client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("unable to create dynamic client: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("unable to create discovery client: %w", err)
	}
	cached := memory.NewMemCacheClient(dc)
	mapper := restmapper.NewShortcutExpander(restmapper.NewDeferredDiscoveryRESTMapper(cached), cached, nil)
	return &Cluster{
		Config:    cfg,
		Clientset: cs,
		Metadata:  md,
		Dynamic:   dyn,
		discovery: cached,
		mapper:    mapper,
		getters:   map[string]*restGetter{},
		requests:  requests,
	}, nil
}

// Mapper maps kinds to resources, from the cluster's discovery (cached).
func (c *Cluster) Mapper() meta.RESTMapper { return c.mapper }

// Discovery is the cluster's cached discovery client.
func (c *Cluster) Discovery() discovery.CachedDiscoveryInterface { return c.discovery }

// getter returns a RESTClientGetter for Helm, defaulting to namespace.
func (c *Cluster) getter(namespace string) genericclioptions.RESTClientGetter {
	c.mu.Lock()
	defer c.mu.Unlock()
	if g, ok := c.getters[namespace]; ok {
		return g
	}
	g := &restGetter{cluster: c, namespace: namespace}
	c.getters[namespace] = g
	return g
}

// restGetter implements genericclioptions.RESTClientGetter over a Cluster,
// sharing its discovery cache between namespaces.
type restGetter struct {
	cluster   *Cluster
	namespace string
}

var _ genericclioptions.RESTClientGetter = (*restGetter)(nil)

func (g *restGetter) ToRESTConfig() (*rest.Config, error) {
	return rest.CopyConfig(g.cluster.Config), nil
}

func (g *restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.cluster.discovery, nil
}

func (g *restGetter) ToRESTMapper() (meta.RESTMapper, error) { return g.cluster.mapper, nil }

func (g *restGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: g.cluster.Config.Host}
	cfg.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", Namespace: g.namespace}
	cfg.CurrentContext = "c"
	return clientcmd.NewDefaultClientConfig(*cfg, &clientcmd.ConfigOverrides{})
}
