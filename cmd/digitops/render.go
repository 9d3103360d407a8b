package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/digitops/digitops/internal/redact"
	"github.com/digitops/digitops/policy"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/source/chartrepo"
	"github.com/digitops/digitops/source/manifest"
)

type renderOptions struct {
	releases    []string
	selectors   []string
	values      bool
	maskSecrets bool
	offline     bool
	kubeVersion string
	// policyFile is --policy; rules the environment's rules from it.
	policyFile string
	rules      *policy.Rules
}

// render returns what one release renders to (or its merged values); warn
// is told when the render cannot be what Helm deploys.
func (o *renderOptions) render(ctx context.Context, charts reconciler.LocalCharts, spec manifest.ReleaseSpec, warn func(string)) (string, error) {
	if spec.Err != nil {
		return "", spec.Err
	}
	if o.values {
		y, err := sigsyaml.Marshal(spec.MergedValues())
		if err != nil {
			return "", fmt.Errorf("unable to print the values: %w", err)
		}
		return string(y), nil
	}
	c, err := charts.Load(ctx, spec.Chart)
	if err != nil {
		return "", err
	}
	text, err := reconciler.Render(ctx, spec, c, reconciler.RenderOptions{Hooks: true, KubeVersion: o.kubeVersion})
	if err != nil {
		return "", fmt.Errorf("%w (see `digitops render --release %s --values` for the values it got)", err, spec.Name)
	}
	calls := reconciler.LookupCalls(c, spec.MergedValues())
	if err := reconciler.PolicyRefusal(o.rules, spec.Namespace, calls, text); err != nil {
		return "", err
	}
	if len(calls) > 0 {
		warn(fmt.Sprintf("release %s/%s calls Helm's lookup (%s): rendered as though no live object exists, as helm template does; Helm reads the cluster when it acts", spec.Namespace, spec.Name, strings.Join(calls, ", ")))
	}
	return text, nil
}

func newRenderCommand(g *globalOptions, s streams) *cobra.Command {
	o := &renderOptions{}
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Print what `helm template` would print for the environment's releases",
		Long: `render prints the manifests of one release or of the whole environment as
` + "`helm template`" + ` would, with the layout's values layering applied (DIGIT's
environment file, secrets file and release chart; helmfile's values; native
values files). It reads no cluster.

render is the operator's debugging tool and prints what the charts render,
Secret data and values from secrets files included; pass --mask-secrets to
hide the values of the secrets file (plain and base64). (plan never shows them.)`,
		Example: `  # The manifests of one release
  digitops render --env egov-demo --release egov-user

  # The merged values a release gets (what helm -f would receive)
  digitops render --env egov-demo --release egov-user --values

  # Everything, with secret values masked, to share
  digitops render --env egov-demo --mask-secrets > egov-demo.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			env, _, err := g.loadEnvironment(ctx)
			if err != nil {
				return err
			}
			if o.rules, err = environmentRules(ctx, o.policyFile, env); err != nil {
				return err
			}
			sel, err := newFilter(o.releases, o.selectors)
			if err != nil {
				return err
			}
			chartCache, err := cacheDir("charts")
			if err != nil {
				return err
			}
			charts := reconciler.LocalCharts{Remote: &chartrepo.Cache{Dir: chartCache}}
			if o.kubeVersion != "" {
				if _, err := reconciler.ParseKubeVersion(o.kubeVersion); err != nil {
					return err
				}
			}
			var (
				b      strings.Builder
				failed []string
			)
			n := 0
			for _, spec := range env.Releases {
				if !sel.match(spec) {
					continue
				}
				n++
				text, err := o.render(ctx, charts, spec, func(w string) { fmt.Fprintf(s.err, "digitops: warning: %s\n", w) })
				if err != nil {
					// Report it and carry on, as plan does: every
					// failing release is named in one run.
					fmt.Fprintf(s.err, "digitops: release %s/%s: %s\n", spec.Namespace, spec.Name, redact.Secrets(err.Error(), spec.SecretValues))
					failed = append(failed, spec.Name)
					continue
				}
				if o.maskSecrets {
					text = redact.Secrets(text, spec.SecretValues)
				}
				fmt.Fprintf(&b, "---\n# Release: %s/%s\n%s", spec.Namespace, spec.Name, text)
			}
			if n == 0 {
				return fmt.Errorf("no release matches %s; the environment has: %s", sel, strings.Join(releaseNames(env), ", "))
			}
			for _, w := range env.Warnings {
				fmt.Fprintf(s.err, "digitops: warning: %s\n", w)
			}
			if _, err = fmt.Fprint(s.out, b.String()); err != nil {
				return err
			}
			if len(failed) > 0 {
				return fmt.Errorf("%d of %d release(s) failed to render: %s", len(failed), n, strings.Join(failed, ", "))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.offline, "offline", true, "render from Git alone (render never reads a cluster; accepted for symmetry with plan)")
	cmd.Flags().StringVar(&o.kubeVersion, "kube-version", "", "the Kubernetes version charts see (default "+reconciler.DefaultKubeVersion()+", the version digitops is built with)")
	cmd.Flags().StringSliceVar(&o.releases, "release", nil, "only this release (repeatable)")
	cmd.Flags().StringSliceVarP(&o.selectors, "selector", "l", nil, "only releases whose labels match key=value[,key!=value]")
	cmd.Flags().BoolVar(&o.values, "values", false, "print the merged values of each release instead of its manifests")
	cmd.Flags().StringVar(&o.policyFile, "policy", "", policyFlagUsage)
	cmd.Flags().BoolVar(&o.maskSecrets, "mask-secrets", false, "replace the values of the secrets file by a short hash")
	return cmd
}
