package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/digitops/digitops/daemon/history"
)

// newHistoryCommand is `digitops history ENV [RELEASE]`, through a
// running daemon's API.
func newHistoryCommand(g *globalOptions, s streams) *cobra.Command {
	o := &serverOptions{}
	cmd := &cobra.Command{
		Use:   "history ENVIRONMENT [RELEASE]",
		Short: "Show the sync history of an environment, or of one release, in a running daemon",
		Long: `history prints the last syncs of an environment that planned or failed (up to 100,
kept by the daemon in its cluster across restarts and leader changes), newest first: when
each started, what woke it (start, poll, webhook, watch, manual, rollout, leader), its
result, duration, revision, the plan's changes and the releases it acted on, then the
errors. With RELEASE, only the syncs that acted on that release.`,
		Example: `  digitops history egov-demo --server http://digitops.digitops-system:8080
  digitops history egov-demo egov-user -o json`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.output != "text" && g.output != "json" {
				return fmt.Errorf("-o %q: history prints text or json", g.output)
			}
			path, release := "/api/v1/environments/"+url.PathEscape(args[0])+"/history", ""
			if len(args) == 2 {
				release = args[1]
				path += "?release=" + url.QueryEscape(release)
			}
			var doc history.Document
			if err := o.call(cmd, http.MethodGet, path, &doc); err != nil {
				return err
			}
			if g.output == "json" {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(doc)
			}
			return printHistory(s.out, doc, release)
		},
	}
	cmd.Flags().StringVar(&o.server, "server", "http://localhost:8080", "URL of the digitops daemon")
	return cmd
}

// shownReleases is how many releases a row of history names before
// "+N more".
const shownReleases = 3

// printHistory writes a history for people: one row per sync, newest
// first, then the errors (with release, that release's only).
func printHistory(w io.Writer, doc history.Document, release string) error {
	var b strings.Builder
	if len(doc.Entries) == 0 {
		if release != "" {
			fmt.Fprintf(&b, "No sync of %s in its history acted on %s.\n", doc.Environment, release)
		} else {
			fmt.Fprintf(&b, "No sync of %s in its history yet.\n", doc.Environment)
		}
	} else {
		what := doc.Environment
		if release != "" {
			what = doc.Environment + "/" + release
		}
		fmt.Fprintf(&b, "History of %s: %d sync(s), newest first\n", what, len(doc.Entries))
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STARTED\tTRIGGER\tRESULT\tDURATION\tREVISION\tCHANGES\tRELEASES")
		for _, e := range doc.Entries {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Started.UTC().Format(time.RFC3339), e.Trigger, e.Result, e.Duration, shortRevision(e.Revision), e.Summary.Changes(), actedOn(e))
		}
		tw.Flush()
		var errs []string
		for _, e := range doc.Entries {
			at := e.Started.UTC().Format(time.RFC3339)
			if e.Error != "" && release == "" { // with RELEASE, its own errors
				errs = append(errs, fmt.Sprintf("  %s: %s", at, e.Error))
			}
			for _, r := range e.Releases {
				if r.Error != "" {
					errs = append(errs, fmt.Sprintf("  %s %s: %s", at, r.Name, r.Error))
				}
			}
		}
		if len(errs) > 0 {
			b.WriteString("\nerrors:\n" + strings.Join(errs, "\n") + "\n")
		}
	}
	if doc.Error != "" {
		fmt.Fprintf(&b, "\nwarning: the daemon keeps this history in memory only: %s\n", doc.Error)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// shortRevision is a revision with its commit cut to 7 hex digits
// ("main@sha1:4f1c0d2"), "-" when none.
func shortRevision(rev string) string {
	if rev == "" {
		return "-"
	}
	i := strings.LastIndex(rev, "sha1:")
	if i < 0 || len(rev) <= i+5+7 {
		return rev
	}
	return rev[:i+5+7]
}

// actedOn names the releases an entry acted on, with action, outcome
// and revision ("egov-user upgrade succeeded r4"), the first
// shownReleases of them; "-" when none.
func actedOn(e history.Entry) string {
	var out []string
	for i, r := range e.Releases {
		if i == shownReleases {
			break
		}
		s := r.Name + " " + r.Action + " " + r.Outcome
		if r.Revision > 0 {
			s += fmt.Sprintf(" r%d", r.Revision)
		}
		out = append(out, s)
	}
	if more := len(e.Releases) - len(out) + e.MoreReleases; more > 0 {
		out = append(out, fmt.Sprintf("+%d more", more))
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ", ")
}
