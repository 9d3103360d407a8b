package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/source/manifest"
)

type applyOptions struct {
	planFlags
	yes bool
}

func newApplyCommand(g *globalOptions, s streams) *cobra.Command {
	o := &applyOptions{}
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Install, upgrade and prune releases so the cluster matches Git",
		Long: `apply prints the plan, asks for confirmation on a terminal (--yes skips it),
then carries out the plan in dependency order with live progress: one line per
release (waiting for dependencies, applying, ready, failed). Without a terminal
it prints one key=value line per event instead, for CI logs.

The exit code is 1 when any release failed; the failed releases are named.`,
		Example: `  # Apply the dev environment of a local repository to the current cluster
  digitops apply --repo ./envs --env dev

  # From CI, without a prompt, one release only
  digitops apply --env egov-demo --release egov-user --yes

  # Against a named kubeconfig context
  digitops apply --env egov-demo --kubeconfig ~/.kube/egov --context egov-demo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if g.secrets == manifest.SecretsPlaceholder {
				return errors.New("apply needs the real secrets: drop --secrets=placeholder (and provide the SOPS key)")
			}
			run, err := newSyncRun(ctx, g, o.planFlags)
			if err != nil {
				return err
			}
			tty := isTerminal(s.out)
			var p *planned
			view := &progressView{}
			opts := run.opts
			opts.Apply, opts.Progress = true, view
			opts.Planned = func(ctx context.Context, plan *reconciler.Plan) (bool, error) {
				p = run.planned(plan)
				if o.diff {
					p.renderDiffs(ctx)
				}
				if err := printPlanText(s.out, p, tty); err != nil {
					return false, err
				}
				if plan.Summary().Writes() == 0 {
					return false, nil
				}
				// Records change no object: no need to ask.
				if plan.Summary().Changes() > 0 && isTerminal(s.in) && !o.yes {
					ok, err := confirm(s.in, s.out, run.env.Name)
					if err != nil {
						return false, err
					}
					if !ok {
						return false, &exitError{code: 1, err: errors.New("apply cancelled: nothing was changed")}
					}
				}
				fmt.Fprintln(s.out)
				view.p = newProgress(s.out, tty, plan, time.Now)
				return true, nil
			}
			synced, err := run.sync(ctx, opts)
			if err != nil {
				return err
			}
			if synced.Result == nil {
				if err := planErrors(synced.Plan); err != nil {
					fmt.Fprintln(s.out, "Nothing to apply: the other releases match Git.")
					return err
				}
				fmt.Fprintln(s.out, "Nothing to do: the cluster matches Git.")
				return nil
			}
			view.p.stop()
			printApplySummary(s.out, synced.Result)
			if err := synced.Result.Err(); err != nil {
				return fmt.Errorf("%w (see the errors above; `digitops status` shows the releases' state)", err)
			}
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted: %w", ctx.Err())
			}
			return nil
		},
	}
	o.add(cmd)
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "apply without asking for confirmation")
	return cmd
}

// progressView is the apply's live view, made once the plan is known.
type progressView struct{ p *progress }

var _ reconciler.Progress = (*progressView)(nil)

func (v *progressView) Started(step *reconciler.Step) { v.p.Started(step) }

func (v *progressView) Finished(res reconciler.ReleaseResult) { v.p.Finished(res) }

// confirm asks the user to type yes.
func confirm(in io.Reader, out io.Writer, env string) (bool, error) {
	fmt.Fprintf(out, "\nApply these changes to %s? Only 'yes' will be accepted: ", env)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return false, fmt.Errorf("unable to read the confirmation: %w (pass --yes to skip it)", err)
	}
	return strings.TrimSpace(line) == "yes", nil
}

// printApplySummary prints the failures in full and one summary line.
func printApplySummary(w io.Writer, r *reconciler.Result) {
	var ok, failed, skipped int
	for _, rr := range r.Releases {
		for _, n := range rr.Notes {
			fmt.Fprintf(w, "\nnote: %s\n", n)
		}
		switch rr.Outcome {
		case reconciler.OutcomeSucceeded:
			ok++
		case reconciler.OutcomeFailed:
			failed++
			fmt.Fprintf(w, "\nfailed: %s/%s (%s): %s\n", rr.Namespace, rr.Name, rr.Action, rr.Error)
		case reconciler.OutcomeSkipped:
			if rr.Error != "" {
				skipped++
			}
		}
	}
	fmt.Fprintf(w, "\nApply: %d succeeded, %d failed, %d skipped in %s\n", ok, failed, skipped, r.Duration.Round(time.Millisecond))
}
