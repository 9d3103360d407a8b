package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/storage/driver"

	"github.com/digitops/digitops/internal/redact"
	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

type statusOptions struct {
	server string
}

func newStatusCommand(g *globalOptions, s streams) *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the releases of an environment: revision, chart, images, state, drift",
		Long: `status shows, per release, the live Helm revision, the chart, the image tags
the release deployed, its state (deployed, failed, pending-*, drifted,
out-of-sync, not installed) and its drift.

With --server it asks a running daemon (GET URL/api/v1/status) about every
environment it serves; without, it plans the environment as plan does, acting
on nothing.`,
		Example: `  # Straight from the cluster
  digitops status --env egov-demo

  # From the daemon, as JSON
  digitops status --server http://digitops.digitops-system:8080 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.server != "" {
				return statusFromServer(cmd.Context(), s.out, g.output, o.server)
			}
			return statusFromCluster(cmd.Context(), s.out, g)
		},
	}
	cmd.Flags().StringVar(&o.server, "server", "", "daemon URL (e.g. http://localhost:8080): read its status API instead of the cluster")
	return cmd
}

func statusFromServer(ctx context.Context, w io.Writer, format, server string) error {
	url := strings.TrimSuffix(server, "/") + "/api/v1/status"
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("invalid --server %q: %w", server, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("unable to reach the daemon: %w (is `digitops serve` running at %s?)", err, server)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the daemon answered %s for %s", resp.Status, url)
	}
	var st statusapi.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return fmt.Errorf("unable to read the daemon's status: %w", err)
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	var b strings.Builder
	for _, e := range st.Environments {
		fmt.Fprintf(&b, "Environment %s: %s", e.Name, e.Phase)
		if e.Revision != "" {
			fmt.Fprintf(&b, " at %s", e.Revision)
		}
		if e.LastSync != nil {
			fmt.Fprintf(&b, ", last sync %s (%s)", e.LastSync.Started.Format(time.RFC3339), e.LastSync.Result)
		}
		b.WriteString("\n")
		if e.CommitSubject != "" {
			fmt.Fprintf(&b, "  commit: %s", e.CommitSubject)
			if e.CommitAuthor != "" {
				fmt.Fprintf(&b, " (%s)", e.CommitAuthor)
			}
			b.WriteString("\n")
		}
		if e.LastError != "" {
			fmt.Fprintf(&b, "  error: %s\n", e.LastError)
		}
		for _, w := range e.Warnings {
			fmt.Fprintf(&b, "  warning: %s\n", manifest.Warning(w))
		}
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  RELEASE\tNAMESPACE\tPHASE\tREVISION\tLAST ACTION")
		for _, r := range e.Releases {
			action := string(r.Action)
			if r.Outcome != "" {
				action += " (" + string(r.Outcome) + ")"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\n", r.Name, r.Namespace, r.Phase, r.Revision, action)
		}
		tw.Flush()
		for _, r := range e.Releases {
			for _, d := range r.Drift {
				fmt.Fprintf(&b, "  drift %s: %s\n", r.Name, drift.Item{Object: d.Object, Path: d.Path, Kind: drift.Kind(d.Kind), Before: d.Before, After: d.After, Manager: d.Manager})
			}
			if r.Error != "" {
				fmt.Fprintf(&b, "  error %s: %s\n", r.Name, r.Error)
			}
		}
		b.WriteString("\n")
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// releaseStatus is one release as status prints it.
type releaseStatus struct {
	Name      string       `json:"name"`
	Namespace string       `json:"namespace"`
	State     string       `json:"state"`
	Revision  int          `json:"revision"`
	Chart     string       `json:"chart"`
	Images    []string     `json:"images"`
	Drift     []drift.Item `json:"drift"`
	Error     string       `json:"error,omitempty"`
}

// statusFromCluster runs the pipeline plan runs, without acting, and
// prints a row per step of its plan, and per release the environment owns
// that Git no longer has and the plan leaves installed.
func statusFromCluster(ctx context.Context, w io.Writer, g *globalOptions) error {
	run, err := newSyncRun(ctx, g, planFlags{})
	if err != nil {
		return err
	}
	opts := run.opts
	// Nothing acts: the prune guard, which stops an apply, does not stop
	// status from listing what the environment no longer has.
	opts.Apply, opts.ForcePrune = false, true
	synced, err := run.syncer.Sync(ctx, run.env, opts)
	var lre *reconciler.LiveReadError
	if errors.As(err, &lre) {
		return fmt.Errorf("%w (is the cluster reachable? check --kubeconfig and --context)", err)
	}
	if err != nil {
		return err
	}
	steps := append(slices.Clone(synced.Plan.Steps), synced.Plan.Unpruned...)
	var out []releaseStatus // null in JSON when there are none, as before
	for i := range steps {
		rs := stepStatus(&steps[i])
		if l := steps[i].Live; l != nil {
			rel, err := kube.ReadRelease(ctx, run.syncer.Cluster, l.Namespace, l.Name, l.Version)
			switch {
			case errors.Is(err, driver.ErrReleaseNotFound):
			case err != nil:
				rs.Error = joinErrors(redact.Secrets(err.Error(), steps[i].Release.SecretValues), rs.Error)
			default:
				rs.Chart = rel.Chart.Metadata.Name + "-" + rel.Chart.Metadata.Version
				rs.Images = kube.ManifestImages(rel.Manifest)
			}
		}
		out = append(out, rs)
	}
	return writeClusterStatus(w, g.output, run.env, out)
}

// stepStatus is a release's row from its plan step, chart and images
// aside. The state is the Helm status of its live revision ("not
// installed" without one), except for a deployed release with drift
// ("drifted") or one the plan upgrades ("out-of-sync"); a release the
// environment owns that Git no longer has gets " (no longer in Git)"
// after it. The error is the plan's when the release is in error, and why
// its drift could not be checked. It is pure.
func stepStatus(st *reconciler.Step) releaseStatus {
	rs := releaseStatus{Name: st.Release.Name, Namespace: st.Release.Namespace, State: "not installed", Images: []string{}, Drift: []drift.Item{}}
	if st.Action == reconciler.ActionError {
		rs.Error = st.Reason
	}
	rs.Error = joinErrors(rs.Error, st.DriftError)
	l := st.Live
	if l == nil {
		return rs
	}
	rs.Revision, rs.State = l.Version, string(l.Status)
	switch {
	case l.Status != release.StatusDeployed:
	case len(st.Drift) > 0:
		rs.Drift, rs.State = st.Drift, "drifted"
	case st.Action == reconciler.ActionUpgrade:
		rs.State = "out-of-sync"
	}
	if st.Status == reconciler.StatusRemoved {
		rs.State += " (no longer in Git)"
	}
	return rs
}

// joinErrors joins the non-empty messages with "; ".
func joinErrors(msgs ...string) string {
	return strings.Join(slices.DeleteFunc(msgs, func(m string) bool { return m == "" }), "; ")
}

// writeClusterStatus prints what statusFromCluster found: the releases, their
// drift and errors, and the environment's load warnings, as text or JSON.
func writeClusterStatus(w io.Writer, format string, env *manifest.Environment, out []releaseStatus) error {
	warnings := env.Warnings
	if warnings == nil {
		warnings = []manifest.Warning{}
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"environment": env.Name, "releases": out, "warnings": warnings})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Environment %s\n", env.Name)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RELEASE\tNAMESPACE\tSTATE\tREVISION\tCHART\tIMAGES")
	for _, r := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", r.Name, r.Namespace, r.State, r.Revision, r.Chart, strings.Join(r.Images, ","))
	}
	tw.Flush()
	for _, r := range out {
		for _, d := range r.Drift {
			fmt.Fprintf(&b, "drift %s: %s\n", r.Name, d)
		}
		if r.Error != "" {
			fmt.Fprintf(&b, "error %s: %s\n", r.Name, r.Error)
		}
	}
	for _, wn := range warnings {
		fmt.Fprintf(&b, "warning: %s\n", wn)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
