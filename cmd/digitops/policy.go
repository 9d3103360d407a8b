package main

import (
	"context"

	"github.com/digitops/digitops/policy"
	"github.com/digitops/digitops/source/manifest"
)

// policyFlagUsage is the help of --policy on plan, apply, render and serve.
const policyFlagUsage = "operator policy file: the namespaces, cluster-scoped kinds, clusters and lookups each environment may use; the repository cannot widen it (see docs/configuration.md, Operator policy)"

// environmentRules reads the policy file at path and returns env's rules
// from it: nil (everything allowed) when path is empty, an error when the
// file is bad or has no entry for env.
func environmentRules(ctx context.Context, path string, env *manifest.Environment) (*policy.Rules, error) {
	if path == "" {
		return nil, nil
	}
	p, err := policy.Read(ctx, path)
	if err != nil {
		return nil, err
	}
	return p.For(env.Name)
}

// repositoryCluster is what of env's cluster block the CLI connects with:
// --kubeconfig and --context are the operator's and win, and the CLI never
// reads a kubeconfigSecret (see cluster). The policy checks this part.
func (o *globalOptions) repositoryCluster(env *manifest.Environment) manifest.ClusterRef {
	ref := manifest.ClusterRef{Kubeconfig: env.Cluster.Kubeconfig, Context: env.Cluster.Context}
	if o.kubeconfig != "" {
		ref.Kubeconfig = ""
	}
	if o.context != "" {
		ref.Context = ""
	}
	return ref
}
