package reconciler

import (
	"strings"
	"testing"

	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/source/manifest"
)

func TestDecideDrift(t *testing.T) {
	items := []drift.Item{{Object: "ConfigMap/egov/a", Kind: drift.Deleted}, {Object: "Deployment/egov/b", Path: "/spec/replicas", Kind: drift.Changed}}
	tests := []struct {
		// mode is the drift mode, items the drift found.
		mode  manifest.DriftMode
		items []drift.Item
		want  Decision
	}{
		{manifest.DriftCorrect, nil, Decision{ActionNone, "unchanged"}},
		{manifest.DriftCorrect, items, Decision{ActionCorrectDrift, "drifted: 2 drift item(s) on 2 object(s)"}},
		{manifest.DriftWarn, items, Decision{ActionNone, "drifted: 2 drift item(s) on 2 object(s) (drift: warn, not corrected)"}},
	}
	for _, tt := range tests {
		if got := DecideDrift(tt.mode, tt.items); got != tt.want {
			t.Errorf("DecideDrift(%s, %d items) = %+v, want %+v", tt.mode, len(tt.items), got, tt.want)
		}
	}
}

func TestNondeterministicPaths(t *testing.T) {
	a := "---\n# Source: c/templates/d.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    metadata:\n      annotations:\n        deployment-timestamp: \"2026-01-01-00-00-00\"\n"
	b := strings.Replace(a, "00-00-00", "00-00-01", 1)
	got := nondeterministicPaths(a, b, "egov")
	want := "Deployment/egov/d /spec/template/metadata/annotations/deployment-timestamp"
	if len(got) != 1 || got[0] != want {
		t.Errorf("paths = %v, want [%s]", got, want)
	}
	if got := nondeterministicPaths(a, a, "egov"); len(got) != 0 {
		t.Errorf("identical renders differ at %v", got)
	}
}
