package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/digitops/digitops/reconciler"
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
