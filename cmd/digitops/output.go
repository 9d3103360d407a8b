package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/source/manifest"
)

// planJSON is the contract of `plan -o json` (DESIGN.md).
type planJSON struct {
	Environment string             `json:"environment"`
	Revision    string             `json:"revision"`
	Summary     reconciler.Summary `json:"summary"`
	Releases    []planReleaseJSON  `json:"releases"`
	Notes       []string           `json:"notes,omitempty"`
}

type planReleaseJSON struct {
	Name      string   `json:"name"`
	Namespace string   `json:"namespace"`
	Action    string   `json:"action"`
	Reason    string   `json:"reason"`
	Drift     []string `json:"drift"`
}

func printPlan(w io.Writer, format string, env *manifest.Environment, plan *reconciler.Plan) error {
	switch format {
	case "json":
		out := planJSON{Environment: env.Name, Revision: plan.Revision, Summary: plan.Summary(), Notes: plan.Notes, Releases: []planReleaseJSON{}}
		for _, st := range plan.Steps {
			out.Releases = append(out.Releases, planReleaseJSON{Name: st.Release.Name, Namespace: st.Release.Namespace, Action: string(st.Action), Reason: st.Reason, Drift: []string{}})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "text", "":
		s := plan.Summary()
		fmt.Fprintf(w, "Environment %s", env.Name)
		if plan.Revision != "" {
			fmt.Fprintf(w, " at %s", plan.Revision)
		}
		fmt.Fprintln(w)
		for _, st := range plan.Steps {
			if st.Action == reconciler.ActionNone {
				continue
			}
			fmt.Fprintf(w, "  %-10s %s/%s: %s\n", st.Action, st.Release.Namespace, st.Release.Name, st.Reason)
		}
		for _, n := range plan.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
		fmt.Fprintf(w, "Plan: %d to install, %d to upgrade, %d drifted, %d to unlock, %d to prune, %d skipped, %d unchanged\n",
			s.Install, s.Upgrade, s.Correct, s.Unlock, s.Uninstall, s.Skip, s.Unchanged)
		return nil
	default:
		return fmt.Errorf("unknown output format %q (want text or json)", format)
	}
}

func printResult(w io.Writer, r *reconciler.Result) {
	for _, rr := range r.Releases {
		if rr.Outcome == reconciler.OutcomeUnchanged {
			continue
		}
		line := fmt.Sprintf("  %-9s %-10s %s/%s", rr.Outcome, rr.Action, rr.Namespace, rr.Name)
		if rr.RevisionAfter > 0 {
			line += fmt.Sprintf(" revision %d", rr.RevisionAfter)
		}
		if rr.Duration > 0 {
			line += fmt.Sprintf(" in %s", rr.Duration.Round(time.Millisecond))
		}
		if rr.Error != "" {
			line += ": " + rr.Error
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	fmt.Fprintf(w, "Applied in %s\n", r.Duration.Round(time.Millisecond))
}
