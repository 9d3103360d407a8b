package reconciler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	kubefake "helm.sh/helm/v3/pkg/kube/fake"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"

	"github.com/digitops/digitops/internal/redact"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// RenderOptions adjust one render.
type RenderOptions struct {
	// Cluster, when set, supplies the capabilities (Kubernetes version and
	// API versions) templates see; nil renders with Helm's defaults, as
	// `helm template` does.
	Cluster *kube.Cluster
	// IsUpgrade renders as for an upgrade (.Release.IsUpgrade).
	IsUpgrade bool
	// Hooks appends the chart's hooks after the manifest, each with its
	// "# Source:" line, as `helm template` prints them.
	Hooks bool
	// KubeVersion is the Kubernetes version templates see when Cluster is
	// nil (e.g. "v1.37.2"); empty means DefaultKubeVersion, not Helm's
	// built-in v1.20 (too old for cert-manager or ingress-nginx).
	KubeVersion string
	// NoCRDs leaves the chart's crds/ out, as Helm's own release manifest
	// does.
	NoCRDs bool
	// ServedAPIsOnly, without a Cluster, tells templates Helm's built-in
	// API versions less those Kubernetes at KubeVersion no longer serves
	// (servedAPIVersions), as a cluster of that version would, instead of
	// all of them as `helm template` does. Offline plans set it.
	ServedAPIsOnly bool
	// Reads, when set, records what the chart's lookups read (see
	// LookupCalls). With a Cluster, a chart that calls lookup reads the
	// live objects, as Helm's install or upgrade will; without one,
	// lookup finds nothing, as in `helm template`.
	Reads *LiveReads
}

// DefaultKubeVersion is the Kubernetes version offline renders assume: the
// version of the Kubernetes libraries digitops is built with (client-go
// v0.X.Y is Kubernetes v1.X.Y).
func DefaultKubeVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "k8s.io/client-go" && strings.HasPrefix(m.Version, "v0.") {
				return "v1." + strings.TrimPrefix(m.Version, "v0.")
			}
		}
	}
	return fallbackKubeVersion
}

// fallbackKubeVersion is DefaultKubeVersion when the binary carries no
// module information: the Kubernetes minor of go.mod.
const fallbackKubeVersion = "v1.37.0"

// ParseKubeVersion parses a --kube-version value (1.29, v1.29.3).
func ParseKubeVersion(v string) (*chartutil.KubeVersion, error) {
	kv, err := chartutil.ParseKubeVersion(v)
	if err != nil {
		return nil, fmt.Errorf("invalid Kubernetes version %q: want e.g. v1.30.0", v)
	}
	return kv, nil
}

// Render renders a release as `helm template` would: the chart with the
// release's values, no cluster writes and no release storage. It returns
// the manifest; with opts.Hooks, the hooks follow it.
func Render(ctx context.Context, spec manifest.ReleaseSpec, c *chart.Chart, opts RenderOptions) (string, error) {
	m, _, err := renderRelease(ctx, spec, c, opts)
	return m, err
}

// renderRelease is Render, and whether the render has hooks (which the
// manifest leaves out unless opts.Hooks).
func renderRelease(ctx context.Context, spec manifest.ReleaseSpec, c *chart.Chart, opts RenderOptions) (m, hooks string, err error) {
	cfg := &action.Configuration{Log: func(string, ...any) {}}
	inst := action.NewInstall(cfg)
	inst.DryRun = true
	inst.ClientOnly = true
	inst.Replace = true
	inst.IncludeCRDs = !opts.NoCRDs
	inst.IsUpgrade = opts.IsUpgrade
	inst.ReleaseName = templateName(spec)
	inst.Namespace = spec.Namespace
	var caps *chartutil.Capabilities
	if opts.Cluster != nil {
		if caps, err = opts.Cluster.Capabilities(); err != nil {
			return "", "", err
		}
	} else {
		v := opts.KubeVersion
		if v == "" {
			v = DefaultKubeVersion()
		}
		kv, err := ParseKubeVersion(v)
		if err != nil {
			return "", "", err
		}
		inst.KubeVersion = kv
		if opts.ServedAPIsOnly {
			caps = chartutil.DefaultCapabilities.Copy()
			caps.KubeVersion = *kv
			caps.APIVersions = servedAPIVersions(v)
		}
	}
	if caps != nil {
		// Exactly these capabilities: a client-only render would add
		// Helm's built-in API versions (batch/v1beta1, policy/v1beta1, …),
		// and a chart that asks for one (DIGIT's common chart does) would
		// render what Helm will not deploy. Online they are the cluster's,
		// as Helm's install or upgrade will see (helmEnv.config). A dry run
		// that is not client-only takes cfg's capabilities as they are; its
		// client prints nothing and its storage is in memory, so nothing
		// reaches the cluster, and CRDs are not installed.
		inst.ClientOnly = false
		inst.SkipCRDs = true
		cfg.Capabilities = caps
		cfg.KubeClient = &kubefake.PrintingKubeClient{Out: io.Discard}
		if opts.Cluster != nil && LookupCalls(c, spec.MergedValues()) != nil {
			// Helm's dry run "server" lets lookup read the cluster;
			// the recorder names what it read.
			reads := opts.Reads
			if reads == nil {
				reads = &LiveReads{}
			}
			inst.DryRunOption = "server"
			cfg.RESTClientGetter = newLookupGetter(opts.Cluster, reads)
		}
		mem := driver.NewMemory()
		mem.SetNamespace(spec.Namespace)
		cfg.Releases = storage.Init(mem)
	}
	rel, err := inst.RunWithContext(ctx, c, manifest.CopyValues(spec.MergedValues()))
	if err != nil {
		return "", "", fmt.Errorf("unable to render release %q: %w", spec.Name, err)
	}
	var hb strings.Builder
	for _, h := range rel.Hooks {
		fmt.Fprintf(&hb, "---\n# Source: %s\n%s\n", h.Path, strings.TrimSpace(h.Manifest))
	}
	m = strings.TrimSpace(rel.Manifest) + "\n"
	if opts.Hooks {
		return m + hb.String(), hb.String(), nil
	}
	return m, hb.String(), nil
}

// templateName is the .Release.Name a release's templates see.
func templateName(spec manifest.ReleaseSpec) string {
	if spec.TemplateName != "" {
		return spec.TemplateName
	}
	return spec.Name
}

// Chart returns the chart the step would deploy, nil for an uninstall.
func (s *Step) Chart() *chart.Chart { return s.chart }

// Manifests are the old and new rendered manifests of one step.
type Manifests struct {
	// Old is the manifest of the live deployed revision; empty for an
	// install.
	Old string
	// New is the manifest the step would deploy; empty for an uninstall.
	New string
	// Secrets are the strings to mask in both: the release's secret values
	// and what the deployed revision had in their place (PreviousSecrets).
	Secrets []string
}

// RenderStep returns what a step changes, as manifests: for an install the
// render alone (a takeover: the adopted live objects, cut to the fields
// the render sets, and the render as the install applies it, see
// adoptedManifests), for an upgrade the deployed revision's manifest and the
// render, for an uninstall the deployed manifest alone. cluster may be nil
// (offline): then nothing is read from the cluster and kubeVersion is the
// Kubernetes version the templates see (empty: DefaultKubeVersion). Steps that change
// nothing return empty Manifests without rendering.
func RenderStep(ctx context.Context, cluster *kube.Cluster, kubeVersion string, step *Step) (Manifests, error) {
	m := Manifests{Secrets: step.Release.SecretValues}
	switch step.Action {
	case ActionInstall, ActionUpgrade, ActionUninstall, ActionCorrectDrift:
	default:
		return m, nil
	}
	if cluster != nil && step.Live != nil && step.Live.LastDeployed > 0 {
		rel, err := kube.ReadRelease(ctx, cluster, step.Release.Namespace, step.Release.Name, step.Live.LastDeployed)
		if err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
			return m, err
		}
		if rel != nil {
			m.Old = rel.Manifest
			if old := redact.PreviousValues(step.Release.MergedValues(), rel.Config, step.Release.SecretValues); len(old) > 0 {
				m.Secrets = append(append([]string(nil), m.Secrets...), old...)
			}
		}
	}
	if step.Action == ActionUninstall || step.chart == nil {
		return m, nil
	}
	m.New = step.rendered
	if m.New == "" {
		opts := renderOptions(cluster, kubeVersion, step)
		opts.Reads = &LiveReads{}
		var err error
		m.New, err = Render(ctx, step.Release, step.chart, opts)
		m.Secrets = slices.Concat(m.Secrets, opts.Reads.SecretValues())
		if err != nil {
			return m, err
		}
	}
	if step.Action == ActionInstall && len(step.liveAdopted) > 0 {
		// A takeover: compared with the live objects it takes.
		var err error
		if m.Old, m.New, err = adoptedManifests(step, m.New); err != nil {
			return m, err
		}
	}
	return m, nil
}

// renderOptions are the options a step is rendered with for its diff: the
// cluster's capabilities, and as an upgrade when a revision is deployed.
func renderOptions(cluster *kube.Cluster, kubeVersion string, step *Step) RenderOptions {
	// As Helm will: an install renders as one, an upgrade as one (also a
	// failed takeover's, upgraded in place with no deployed revision).
	isUpgrade := step.Live != nil && step.Live.LastDeployed > 0
	switch step.Action {
	case ActionInstall:
		isUpgrade = false
	case ActionUpgrade:
		isUpgrade = true
	}
	return RenderOptions{Cluster: cluster, KubeVersion: kubeVersion, IsUpgrade: isUpgrade, ServedAPIsOnly: cluster == nil}
}
