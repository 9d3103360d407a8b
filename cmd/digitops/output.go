package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/digitops/digitops/internal/diff"
	"github.com/digitops/digitops/internal/parallel"
	"github.com/digitops/digitops/internal/redact"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/source/manifest"
)

// isTerminal says whether w is a terminal (colours, live progress, prompts).
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}

// driftOf returns the drift the planner found on a step.
func driftOf(st *reconciler.Step) []drift.Item { return st.Drift }

// stepDiff is what one step changes in rendered objects.
type stepDiff struct {
	objects []diff.Object
	err     error
}

// renderDiffs renders every step that changes something and diffs it
// against the live deployed manifest, several releases at once.
func (p *planned) renderDiffs(ctx context.Context) {
	var idx []int
	for i := range p.plan.Steps {
		switch p.plan.Steps[i].Action {
		case reconciler.ActionInstall, reconciler.ActionUpgrade, reconciler.ActionUninstall:
			idx = append(idx, i)
		}
	}
	diffs := make([]stepDiff, len(idx))
	parallel.ForEach(ctx, len(idx), 0, func(ctx context.Context, k int) {
		st := &p.plan.Steps[idx[k]]
		m, err := reconciler.RenderStep(ctx, p.cluster, p.plan.KubeVersion, st)
		if err != nil {
			diffs[k] = stepDiff{err: fmt.Errorf("%s", redact.Secrets(err.Error(), st.Release.SecretValues))}
			return
		}
		objs, err := diff.Manifests(m.Old, m.New, diff.Options{Secrets: m.Secrets})
		diffs[k] = stepDiff{objects: objs, err: err}
	})
	p.diffs = make(map[int]stepDiff, len(idx))
	for k, i := range idx {
		p.diffs[i] = diffs[k]
	}
}

// planJSON is the contract of `plan -o json` (docs/cli.md).
type planJSON struct {
	Environment string             `json:"environment"`
	Revision    string             `json:"revision"`
	Summary     reconciler.Summary `json:"summary"`
	Releases    []planReleaseJSON  `json:"releases"`
	Notes       []string           `json:"notes,omitempty"`
	Warnings    []manifest.Warning `json:"warnings"`
	// InputsWithNoEffect are values that changed in Git but moved no object.
	InputsWithNoEffect []reconciler.Input `json:"inputsWithNoEffect,omitempty"`
}

type planReleaseJSON struct {
	Name      string                `json:"name"`
	Namespace string                `json:"namespace"`
	Action    string                `json:"action"`
	Reason    string                `json:"reason"`
	Drift     []drift.Item          `json:"drift"`
	Adopt     []reconciler.Adoption `json:"adopt,omitempty"`
	Orphans   []reconciler.Orphan   `json:"orphans,omitempty"`
	Restarts  []reconciler.Restart  `json:"restarts,omitempty"`
	Inputs    []reconciler.Input    `json:"inputs,omitempty"`
	HandsOver []reconciler.HandOver `json:"handsOver,omitempty"`
	Lookups   []string              `json:"lookups,omitempty"`
	LiveReads []string              `json:"liveReads,omitempty"`
}

// detailLines are the lines under a step's heading, in the text and the
// markdown plan alike: what it adopts, hands over, orphans, which inputs
// moved it, what restarts, what drifted.
func detailLines(st *reconciler.Step) []string {
	var out []string
	for _, a := range st.Adopt {
		out = append(out, "adopt: "+a.String())
	}
	for _, l := range st.Lookups {
		out = append(out, "lookup: "+l+" reads live objects when Helm acts")
	}
	for _, r := range st.LiveReads {
		out = append(out, "read: "+r)
	}
	for _, h := range st.HandsOver {
		out = append(out, "keep: "+h.Object+" (taken over by "+h.To+")")
	}
	for _, o := range st.Orphans {
		out = append(out, fmt.Sprintf("orphan: %s", o))
	}
	for _, in := range st.Inputs {
		out = append(out, fmt.Sprintf("input: %s", in))
	}
	for _, r := range st.Restarts {
		out = append(out, fmt.Sprint(r))
	}
	for _, d := range driftOf(st) {
		out = append(out, fmt.Sprintf("drift: %s", d))
	}
	return out
}

func printPlan(w io.Writer, format string, p *planned, color bool) error {
	switch format {
	case "json":
		return printPlanJSON(w, p)
	case "markdown", "md":
		return printPlanMarkdown(w, p)
	case "text", "":
		return printPlanText(w, p, color)
	default:
		return fmt.Errorf("unknown output format %q: use -o text, json or markdown", format)
	}
}

func printPlanJSON(w io.Writer, p *planned) error {
	out := planJSON{Environment: p.env.Name, Revision: p.plan.Revision, Summary: p.plan.Summary(), Notes: p.plan.Notes, Releases: []planReleaseJSON{}, Warnings: p.plan.Warnings, InputsWithNoEffect: p.plan.InputsWithNoEffect}
	if out.Warnings == nil {
		out.Warnings = []manifest.Warning{}
	}
	for i := range p.plan.Steps {
		st := &p.plan.Steps[i]
		d := driftOf(st)
		if d == nil {
			d = []drift.Item{}
		}
		out.Releases = append(out.Releases, planReleaseJSON{Name: st.Release.Name, Namespace: st.Release.Namespace, Action: string(st.Action), Reason: st.Reason, Drift: d, Adopt: st.Adopt, Orphans: st.Orphans, Restarts: st.Restarts, Inputs: st.Inputs, HandsOver: st.HandsOver, Lookups: st.Lookups, LiveReads: st.LiveReads})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// summaryLine is "Plan: 2 to install, 3 to upgrade, 1 drifted, 1 to prune, 33 unchanged"
// (then ", 1 in error, 4 blocked" when releases are in error).
func summaryLine(s reconciler.Summary) string {
	parts := []string{
		fmt.Sprintf("%d to install", s.Install),
		fmt.Sprintf("%d to upgrade", s.Upgrade),
	}
	if s.Record > 0 {
		parts = append(parts, fmt.Sprintf("%d recorded without upgrade", s.Record))
	}
	parts = append(parts,
		fmt.Sprintf("%d drifted", s.Correct),
		fmt.Sprintf("%d to prune", s.Uninstall),
	)
	if s.Unlock > 0 {
		parts = append(parts, fmt.Sprintf("%d to unlock", s.Unlock))
	}
	if s.DeleteOrphans > 0 {
		parts = append(parts, fmt.Sprintf("%d with orphans to delete", s.DeleteOrphans))
	}
	if s.Skip > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped", s.Skip))
	}
	parts = append(parts, fmt.Sprintf("%d unchanged", s.Unchanged))
	if s.Error > 0 || s.Blocked > 0 {
		parts = append(parts, fmt.Sprintf("%d in error", s.Error), fmt.Sprintf("%d blocked", s.Blocked))
	}
	return "Plan: " + strings.Join(parts, ", ")
}

// symbol marks an action in text and markdown.
func symbol(a reconciler.Action) string {
	switch a {
	case reconciler.ActionInstall:
		return "+"
	case reconciler.ActionUninstall, reconciler.ActionDeleteOrphans:
		return "-"
	case reconciler.ActionCorrectDrift:
		return "!"
	case reconciler.ActionSkip, reconciler.ActionBlocked:
		return "?"
	case reconciler.ActionError:
		return "x"
	case reconciler.ActionNone:
		return " "
	case reconciler.ActionRecord:
		return "="
	}
	return "~"
}

// shown says whether a step appears in the detail of a plan. A record
// (values changed, render unchanged) does not: a DIGIT environment-file
// edit records most of the environment, and the plan lists those apart,
// on one line (recordedLine), so that the real changes stand out.
func shown(st *reconciler.Step) bool {
	if st.Action == reconciler.ActionRecord {
		return len(driftOf(st)) > 0 || len(st.Orphans) > 0
	}
	return st.Action != reconciler.ActionNone || len(driftOf(st)) > 0 || len(st.Orphans) > 0
}

// recordedLine is "= recorded without upgrade (chart or values changed,
// render unchanged): a, b, c", or "" when the plan records nothing.
func recordedLine(plan *reconciler.Plan) string {
	var names []string
	for _, st := range plan.Steps {
		if st.Action == reconciler.ActionRecord {
			names = append(names, st.Release.Namespace+"/"+st.Release.Name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf("= recorded without upgrade (chart or values changed, render unchanged: no new revision): %s", strings.Join(names, ", "))
}

func printPlanText(w io.Writer, p *planned, color bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Environment %s", p.env.Name)
	if p.plan.Revision != "" {
		fmt.Fprintf(&b, " at %s", p.plan.Revision)
	}
	b.WriteString("\n")
	for i := range p.plan.Steps {
		st := &p.plan.Steps[i]
		if !shown(st) {
			continue
		}
		head := fmt.Sprintf("%s %s %s/%s: %s", symbol(st.Action), st.Action, st.Release.Namespace, st.Release.Name, st.Reason)
		if color {
			head = "\x1b[1m" + head + "\x1b[0m"
		}
		b.WriteString("\n" + head + "\n")
		for _, line := range detailLines(st) {
			b.WriteString("    " + line + "\n")
		}
		if sd, ok := p.diffs[i]; ok {
			if sd.err != nil {
				fmt.Fprintf(&b, "    (no diff: %v)\n", sd.err)
			} else if len(sd.objects) == 0 {
				b.WriteString("    (no change in rendered objects)\n")
			} else if err := diff.Write(&b, sd.objects, diff.Style{Color: color, Indent: "    "}); err != nil {
				return err
			}
		}
	}
	if line := recordedLine(p.plan); line != "" {
		b.WriteString("\n" + line + "\n")
	}
	if len(p.plan.InputsWithNoEffect) > 0 {
		b.WriteString("\nchanged inputs with no effect (no release renders differently):\n")
		for _, in := range p.plan.InputsWithNoEffect {
			fmt.Fprintf(&b, "    %s\n", in)
		}
	}
	for _, n := range p.plan.Notes {
		fmt.Fprintf(&b, "\nnote: %s\n", n)
	}
	for _, w := range p.plan.Warnings {
		fmt.Fprintf(&b, "\nwarning: %s\n", w)
	}
	b.WriteString("\n" + summaryLine(p.plan.Summary()) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func printPlanMarkdown(w io.Writer, p *planned) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### digitops plan: %s", mdCode(p.env.Name))
	if p.plan.Revision != "" {
		fmt.Fprintf(&b, " at %s", mdCode(p.plan.Revision))
	}
	fmt.Fprintf(&b, "\n\n**%s**\n\n", summaryLine(p.plan.Summary()))
	for _, n := range p.plan.Notes {
		fmt.Fprintf(&b, "> %s\n\n", mdText(n))
	}
	for _, w := range p.plan.Warnings {
		fmt.Fprintf(&b, "> :warning: %s\n\n", mdText(w.String()))
	}
	if line := recordedLine(p.plan); line != "" {
		fmt.Fprintf(&b, "%s\n\n", mdText(line))
	}
	if len(p.plan.InputsWithNoEffect) > 0 {
		b.WriteString("Changed inputs with no effect (no release renders differently):\n\n")
		for _, in := range p.plan.InputsWithNoEffect {
			fmt.Fprintf(&b, "- %s\n", mdText(in.String()))
		}
		b.WriteString("\n")
	}
	var rows []int
	for i := range p.plan.Steps {
		if shown(&p.plan.Steps[i]) {
			rows = append(rows, i)
		}
	}
	if len(rows) == 0 {
		b.WriteString("No changes: the cluster matches Git.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString("| Release | Namespace | Action | Reason |\n|---|---|---|---|\n")
	for _, i := range rows {
		st := &p.plan.Steps[i]
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", mdCodeCell(st.Release.Name), mdCodeCell(st.Release.Namespace), mdText(string(st.Action)), mdText(st.Reason))
	}
	for _, i := range rows {
		st := &p.plan.Steps[i]
		var body strings.Builder
		for _, line := range detailLines(st) {
			body.WriteString(line + "\n")
		}
		counts := ""
		if sd, ok := p.diffs[i]; ok {
			switch {
			case sd.err != nil:
				fmt.Fprintf(&body, "(no diff: %v)\n", sd.err)
			default:
				if err := diff.Write(&body, sd.objects, diff.Style{}); err != nil {
					return err
				}
				a, c, r := diff.Count(sd.objects)
				counts = fmt.Sprintf(" (%d added, %d changed, %d removed)", a, c, r)
			}
		}
		fmt.Fprintf(&b, "\n<details><summary><code>%s/%s</code>: %s, %s%s</summary>\n\n", htmlLine(st.Release.Namespace), htmlLine(st.Release.Name), htmlLine(string(st.Action)), htmlLine(st.Reason), counts)
		if body.Len() > 0 {
			fence := codeFence(body.String())
			fmt.Fprintf(&b, "%sdiff\n%s%s\n\n", fence, body.String(), fence)
		}
		b.WriteString("</details>\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// codeFence returns a backtick fence longer than any run of backticks in s.
func codeFence(s string) string {
	return strings.Repeat("`", max(3, longestBackticks(s)+1))
}

// longestBackticks is the longest run of backticks in s.
func longestBackticks(s string) int {
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

// The markdown output escapes every field it prints, in the way of the
// place it goes: a field never ends a heading, a table row, a quote or the
// <details> block it is in, nor opens a link, an emphasis or a code span.

// oneLine folds the line breaks of s into spaces.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// mdCode is s as a code span on one line: fenced by a run of backticks
// longer than any in s (padded with a space when s starts or ends with a
// backtick), so that a backtick in s cannot close it.
func mdCode(s string) string {
	s = oneLine(s)
	fence := strings.Repeat("`", longestBackticks(s)+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || s == "" {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdCodeCell is mdCode in a table cell, where a pipe, even in a code span,
// would end the cell unless escaped (GitHub Flavored Markdown).
func mdCodeCell(s string) string {
	return strings.ReplaceAll(mdCode(s), "|", "\\|")
}

// mdText is s as inline text on one line (a table cell, a quote): HTML is
// escaped, the characters markdown gives a meaning inline are
// backslash-escaped and line breaks become <br>.
func mdText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			b.WriteString("<br>")
		case '\n':
			b.WriteString("<br>")
		case '\\', '`', '*', '_', '[', ']', '|', '~', '#', '!':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// htmlLine is s in an HTML block (the <summary> of a release): HTML
// escaped, on one line, since a blank line would end the block and let the
// rest be read as markdown.
func htmlLine(s string) string {
	return htmlEscape(oneLine(s))
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
