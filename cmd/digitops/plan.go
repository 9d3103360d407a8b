package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/source/manifest"
)

type planOptions struct {
	detailedExitCode bool
	forcePrune       bool
}

func newPlanCommand(g *globalOptions, s streams) *cobra.Command {
	o := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what apply would change, without changing anything",
		Example: `  # What would change in the dev environment of the current repository
  digitops plan --env dev

  # As JSON, with exit code 2 when something would change (for CI)
  digitops plan --repo ./DIGIT-DevOps --env egov-demo -o json --detailed-exitcode`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, plan, _, err := makePlan(cmd.Context(), g, o.forcePrune)
			if err != nil {
				return err
			}
			if err := printPlan(s.out, g.output, env, plan); err != nil {
				return err
			}
			if o.detailedExitCode && plan.Summary().Changes() > 0 {
				return &exitError{code: 2}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.detailedExitCode, "detailed-exitcode", false, "exit 0 when nothing changes, 2 when something would, 1 on error")
	cmd.Flags().BoolVar(&o.forcePrune, "force-prune", false, "allow pruning more than the environment's maxPrunePercent")
	return cmd
}

// makePlan loads the environment, reads the cluster and plans.
func makePlan(ctx context.Context, g *globalOptions, forcePrune bool) (*manifest.Environment, *reconciler.Plan, *reconciler.Cluster, error) {
	env, revision, err := g.loadEnvironment(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	cluster, err := g.cluster(env)
	if err != nil {
		return nil, nil, nil, err
	}
	live, err := reconciler.ReadLiveState(ctx, cluster)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w (is the cluster reachable? check --kubeconfig and --context)", err)
	}
	planner := &reconciler.Planner{Charts: reconciler.LocalCharts{}}
	plan, err := planner.Plan(ctx, env, live, reconciler.PlanOptions{ForcePrune: forcePrune, Revision: revision})
	if err != nil {
		return nil, nil, nil, err
	}
	return env, plan, cluster, nil
}
