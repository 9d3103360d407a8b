package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/digitops/digitops/internal/statusapi"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/source/manifest"
)

// A plan's orphans show under their release in every format, and a release
// whose only change is deleting them counts as a change.
func TestPrintPlan_orphans(t *testing.T) {
	plan := &reconciler.Plan{Environment: "dev", Steps: []reconciler.Step{
		{
			Release: manifest.ReleaseSpec{Name: "kafka-kraft", Namespace: "egov"},
			Action:  reconciler.ActionDeleteOrphans,
			Reason:  "1 object(s) it adopted at takeover are no longer rendered: prune deletes them",
			Orphans: []reconciler.Orphan{{Object: "Service/egov/release-name-kafka-controller-headless", Adopted: true, Delete: true}},
		},
		{
			Release: manifest.ReleaseSpec{Name: "ingress-nginx", Namespace: "egov"},
			Action:  reconciler.ActionNone,
			Reason:  "unchanged",
			Orphans: []reconciler.Orphan{{Object: "Service/egov/release-name-ingress-nginx-controller"}},
		},
	}}
	p := &planned{env: &manifest.Environment{Name: "dev"}, plan: plan}

	var text bytes.Buffer
	if err := printPlan(&text, "text", p, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"- delete-orphans egov/kafka-kraft: 1 object(s)",
		"    orphan: Service/egov/release-name-kafka-controller-headless (adopted at takeover, no longer rendered: deleted, prune is on)",
		"    orphan: Service/egov/release-name-ingress-nginx-controller (the Go deployer's, not adopted: digitops never deletes it)",
		"1 with orphans to delete",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text plan lacks %q:\n%s", want, text.String())
		}
	}

	var md bytes.Buffer
	if err := printPlan(&md, "markdown", p, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "orphan: Service/egov/release-name-ingress-nginx-controller") {
		t.Errorf("markdown plan lacks the unchanged release's orphan:\n%s", md.String())
	}

	var js bytes.Buffer
	if err := printPlan(&js, "json", p, false); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Summary  map[string]int `json:"summary"`
		Releases []struct {
			Name    string `json:"name"`
			Orphans []struct {
				Object  string `json:"object"`
				Adopted bool   `json:"adopted"`
				Delete  bool   `json:"delete"`
			} `json:"orphans"`
		} `json:"releases"`
	}
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Summary["deleteOrphans"] != 1 || len(got.Releases) != 2 {
		t.Fatalf("json plan: summary %v, %d releases; want deleteOrphans 1 and both releases", got.Summary, len(got.Releases))
	}
	if o := got.Releases[0].Orphans; len(o) != 1 || !o[0].Adopted || !o[0].Delete {
		t.Errorf("json orphans of kafka-kraft = %+v, want one adopted, deleted", o)
	}
	if o := got.Releases[1].Orphans; len(o) != 1 || o[0].Adopted || o[0].Delete {
		t.Errorf("json orphans of ingress-nginx = %+v, want one not adopted, kept", o)
	}
}

// TestPrintPlan_markdownEscapes: no field of the markdown plan, whatever
// it holds, ends the heading, a table row or a quote, or closes its code
// span.
func TestPrintPlan_markdownEscapes(t *testing.T) {
	plan := &reconciler.Plan{
		Environment: "dev",
		Revision:    "main@sha1:0123`\n# injected revision",
		Notes:       []string{"a note\n\n# injected note heading"},
		Warnings:    []manifest.Warning{{File: "digitops.yaml", Line: 3, Msg: "lenient\n| injected | row |"}},
		Steps: []reconciler.Step{{
			Release: manifest.ReleaseSpec{Name: "egov|user`", Namespace: "eg`ov"},
			Action:  reconciler.ActionUpgrade,
			Reason:  "values changed\r\n| x | y | z | w |\n\n</summary></details># out <img src=x onerror=alert(1)> [link](http://evil) *bold*",
		}},
	}
	p := &planned{env: &manifest.Environment{Name: "de`v\n# injected heading"}, plan: plan}
	var md bytes.Buffer
	if err := printPlan(&md, "markdown", p, false); err != nil {
		t.Fatal(err)
	}
	out := md.String()
	lines := strings.Split(out, "\n")
	tests := []struct {
		name string // what must hold
		ok   bool   // whether it does
	}{
		{"one heading, on the first line", strings.HasPrefix(lines[0], "### digitops plan: ") && countPrefix(lines, "#") == 1},
		{"the heading's code span is not closed by the name's backtick", strings.Contains(lines[0], "``de`v # injected heading``")},
		{"the revision is a code span on the heading's line", strings.Contains(lines[0], "``main@sha1:0123` # injected revision``")},
		{"the table has its header, its rule and one row", countPrefix(lines, "|") == 3},
		{"the row has four cells", len(unescapedPipes(rowOf(lines, "| ``"))) == 5},
		{"the pipe in a code span of a cell is escaped", strings.Contains(out, "| `` egov\\|user` `` |")},
		{"no raw HTML from a field", !strings.Contains(out, "<img") && strings.Count(out, "</summary>") == 1 && strings.Count(out, "</details>") == 1},
		{"no link from a field in markdown", strings.Contains(rowOf(lines, "| ``"), `\[link\](http://evil)`)},
		{"no emphasis from a field", strings.Contains(out, `\*bold\*`)},
		{"line breaks in a cell are <br>", strings.Contains(out, "values changed<br>\\| x \\| y")},
		{"a quote stays one line", strings.Contains(out, "> a note<br><br>\\# injected note heading\n")},
	}
	for _, tt := range tests {
		if !tt.ok {
			t.Errorf("%s:\n%s", tt.name, out)
		}
	}
}

// countPrefix counts the lines starting with prefix.
func countPrefix(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// rowOf is the first line starting with prefix, "" when none.
func rowOf(lines []string, prefix string) string {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// unescapedPipes are the offsets of the pipes not preceded by a backslash.
func unescapedPipes(s string) []int {
	var out []int
	for i := range len(s) {
		if s[i] == '|' && (i == 0 || s[i-1] != '\\') {
			out = append(out, i)
		}
	}
	return out
}

// A DIGIT environment-file edit: the one upgrade shows with the key that
// moved and the workload it restarts; the records are one line apart; a
// key that moved nothing is listed once; only the upgrade counts as a
// change (--detailed-exitcode).
func TestPrintPlan_recordsAndInputs(t *testing.T) {
	envFile := "deploy-as-code/helm/environments/uat.yaml"
	plan := &reconciler.Plan{Environment: "uat", Steps: []reconciler.Step{
		{
			Release:  manifest.ReleaseSpec{Name: "egov-user", Namespace: "egov"},
			Action:   reconciler.ActionUpgrade,
			Reason:   "values changed",
			Inputs:   []reconciler.Input{{File: envFile, Key: "egov-user.replicas", Old: "2", New: "3"}},
			Restarts: []reconciler.Restart{{Workload: "Deployment/egov/egov-user", Why: "ConfigMap egov/egov-config data.timezone changed"}},
		},
		{Release: manifest.ReleaseSpec{Name: "zuul", Namespace: "egov"}, Action: reconciler.ActionRecord, Reason: "values changed, render unchanged (no upgrade)"},
		{Release: manifest.ReleaseSpec{Name: "redis", Namespace: "backbone"}, Action: reconciler.ActionRecord, Reason: "values changed, render unchanged (no upgrade)"},
	}, InputsWithNoEffect: []reconciler.Input{{File: envFile, Key: "global.unused", New: `"x"`}}}
	p := &planned{env: &manifest.Environment{Name: "uat"}, plan: plan}
	if s := plan.Summary(); s.Changes() != 1 || s.Record != 2 || s.Writes() != 3 {
		t.Errorf("summary %+v: want 1 change, 2 records, 3 writes", s)
	}

	var text bytes.Buffer
	if err := printPlan(&text, "text", p, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"~ upgrade egov/egov-user: values changed\n    input: deploy-as-code/helm/environments/uat.yaml: egov-user.replicas 2 → 3\n    restarts Deployment/egov/egov-user: ConfigMap egov/egov-config data.timezone changed\n",
		"= recorded without upgrade (chart or values changed, render unchanged: no new revision): egov/zuul, backbone/redis\n",
		"changed inputs with no effect (no release renders differently):\n    deploy-as-code/helm/environments/uat.yaml: global.unused (none) → \"x\"\n",
		"Plan: 0 to install, 1 to upgrade, 2 recorded without upgrade, ",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text plan lacks %q:\n%s", want, text.String())
		}
	}
	if strings.Contains(text.String(), "record egov/zuul") {
		t.Errorf("a record is listed as a change:\n%s", text.String())
	}

	var md bytes.Buffer
	if err := printPlan(&md, "markdown", p, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"input: deploy-as-code/helm/environments/uat.yaml: egov-user.replicas 2 → 3", "egov/zuul, backbone/redis", "global.unused"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown plan lacks %q:\n%s", want, md.String())
		}
	}

	var js bytes.Buffer
	if err := printPlan(&js, "json", p, false); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Summary  map[string]int `json:"summary"`
		Releases []struct {
			Name     string               `json:"name"`
			Action   string               `json:"action"`
			Inputs   []reconciler.Input   `json:"inputs"`
			Restarts []reconciler.Restart `json:"restarts"`
		} `json:"releases"`
		NoEffect []reconciler.Input `json:"inputsWithNoEffect"`
	}
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Summary["record"] != 2 || len(got.Releases) != 3 || got.Releases[1].Action != "record" {
		t.Fatalf("json plan: %+v", got)
	}
	if in := got.Releases[0].Inputs; len(in) != 1 || in[0].Key != "egov-user.replicas" || in[0].Old != "2" || in[0].New != "3" {
		t.Errorf("json inputs = %+v", in)
	}
	if r := got.Releases[0].Restarts; len(r) != 1 || r[0].Workload != "Deployment/egov/egov-user" {
		t.Errorf("json restarts = %+v", r)
	}
	if len(got.NoEffect) != 1 || got.NoEffect[0].Key != "global.unused" {
		t.Errorf("json inputsWithNoEffect = %+v", got.NoEffect)
	}
}

// TestPrintRollout_gateError: a gate that cannot be checked shows in
// rollout status, not only in the daemon's logs.
func TestPrintRollout_gateError(t *testing.T) {
	var b bytes.Buffer
	printRollout(&b, statusapi.Rollout{Name: "egov", Wave: 1, Summary: "0123456 at wave 1 of 2, soaking (0s left), waiting for its gate: it cannot be checked",
		GateError: "wave 1 gate cannot be checked; the wave is not promoted until it can: redirect refused",
		Waves:     []statusapi.RolloutWave{{Environments: []statusapi.RolloutEnvironment{{Name: "dev"}}}}})
	if !strings.Contains(b.String(), "  gate: wave 1 gate cannot be checked; the wave is not promoted until it can: redirect refused\n") {
		t.Errorf("rollout status lacks the gate error:\n%s", b.String())
	}
}

// digitops status (from the cluster) prints the environment's load
// warnings, as the README says, in text and JSON.
func TestWriteClusterStatus_warnings(t *testing.T) {
	env := &manifest.Environment{Name: "dev", Warnings: []manifest.Warning{{File: "release.yaml", Line: 57, Release: "egov-user", Msg: "listed twice with different tags"}}}
	out := []releaseStatus{{Name: "egov-user", Namespace: "egov", State: "deployed", Revision: 1, Images: []string{}, Drift: []drift.Item{}}}
	var text, js strings.Builder
	if err := writeClusterStatus(&text, "text", env, out); err != nil {
		t.Fatal(err)
	}
	if want := `warning: release.yaml:57: release "egov-user": listed twice with different tags`; !strings.Contains(text.String(), want) {
		t.Errorf("status text lacks %q:\n%s", want, text.String())
	}
	if err := writeClusterStatus(&js, "json", env, out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"warnings": [`) || !strings.Contains(js.String(), `"line": 57`) {
		t.Errorf("status JSON lacks the warning:\n%s", js.String())
	}
}
