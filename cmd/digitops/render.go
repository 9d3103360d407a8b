package main

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/source/chartrepo"
)

type renderOptions struct {
	releases    []string
	selectors   []string
	values      bool
	maskSecrets bool
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
			sel, err := newFilter(o.releases, o.selectors)
			if err != nil {
				return err
			}
			chartCache, err := cacheDir("charts")
			if err != nil {
				return err
			}
			charts := reconciler.LocalCharts{Remote: &chartrepo.Cache{Dir: chartCache}}
			var b strings.Builder
			n := 0
			for _, spec := range env.Releases {
				if !sel.match(spec) {
					continue
				}
				n++
				var text string
				if o.values {
					y, err := sigsyaml.Marshal(spec.Values)
					if err != nil {
						return fmt.Errorf("unable to print the values of release %q: %w", spec.Name, err)
					}
					text = string(y)
				} else {
					c, err := charts.Load(ctx, spec.Chart)
					if err != nil {
						return fmt.Errorf("release %q: %w", spec.Name, err)
					}
					if text, err = reconciler.Render(ctx, spec, c, reconciler.RenderOptions{Hooks: true}); err != nil {
						return fmt.Errorf("%s (see `digitops render --release %s --values` for the values it got)", reconciler.MaskSecrets(err.Error(), spec.SecretValues), spec.Name)
					}
				}
				if o.maskSecrets {
					text = reconciler.MaskSecrets(text, withBase64(spec.SecretValues))
				}
				fmt.Fprintf(&b, "---\n# Release: %s/%s\n%s", spec.Namespace, spec.Name, text)
			}
			if n == 0 {
				return fmt.Errorf("no release matches %s; the environment has: %s", sel, strings.Join(releaseNames(env), ", "))
			}
			_, err = fmt.Fprint(s.out, b.String())
			return err
		},
	}
	cmd.Flags().StringSliceVar(&o.releases, "release", nil, "only this release (repeatable)")
	cmd.Flags().StringSliceVarP(&o.selectors, "selector", "l", nil, "only releases whose labels match key=value[,key!=value]")
	cmd.Flags().BoolVar(&o.values, "values", false, "print the merged values of each release instead of its manifests")
	cmd.Flags().BoolVar(&o.maskSecrets, "mask-secrets", false, "replace the values of the secrets file by a short hash")
	return cmd
}

// withBase64 returns the values and their base64 encodings (Secret data).
func withBase64(values []string) []string {
	out := append([]string(nil), values...)
	for _, v := range values {
		out = append(out, base64.StdEncoding.EncodeToString([]byte(v)))
	}
	return out
}
