package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/digitops/digitops/reconciler"
)

type applyOptions struct {
	forcePrune bool
}

func newApplyCommand(g *globalOptions, s streams) *cobra.Command {
	o := &applyOptions{}
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Install, upgrade and prune releases so the cluster matches Git",
		Example: `  # Apply the dev environment of a local repository to the current cluster
  digitops apply --repo ./envs --env dev

  # Against a named kubeconfig context
  digitops apply --env egov-demo --kubeconfig ~/.kube/egov --context egov-demo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			env, plan, cluster, err := makePlan(ctx, g, o.forcePrune)
			if err != nil {
				return err
			}
			if err := printPlan(s.out, "text", env, plan); err != nil {
				return err
			}
			if plan.Summary().Changes() == 0 {
				return nil
			}
			applier := &reconciler.Applier{Cluster: cluster, Log: slog.Default()}
			result := applier.Apply(ctx, env, plan)
			printResult(s.out, result)
			if err := result.Err(); err != nil {
				return err
			}
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted: %w", ctx.Err())
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.forcePrune, "force-prune", false, "allow pruning more than the environment's maxPrunePercent")
	return cmd
}
