package daemon

import (
	"strings"
	"testing"

	"github.com/digitops/digitops/reconciler"
)

func TestStepDrift_masksSecrets(t *testing.T) {
	const secret = "hunter2-db-password"
	step := &reconciler.Step{Drift: []reconciler.DriftItem{
		{Object: "ConfigMap/egov/db", Path: "/data/url", Kind: reconciler.DriftChanged, Before: "postgres://u:" + secret + "@db", After: "postgres://u:x@db"},
		{Object: "Deployment/egov/egov-user", Path: "/spec/replicas", Kind: reconciler.DriftChanged, Before: "2", After: "5", Manager: "kubectl-edit"},
	}}
	items := stepDrift(step, []string{secret})
	if len(items) != 2 {
		t.Fatalf("got %d items, want 2", len(items))
	}
	if strings.Contains(items[0].Before, secret) || !strings.Contains(items[0].Before, reconciler.Mask(secret)) {
		t.Errorf("secret not masked: %q", items[0].Before)
	}
	if items[1].Before != "2" || items[1].Manager != "kubectl-edit" {
		t.Errorf("plain item changed: %+v", items[1])
	}
	if step.Drift[0].Before != "postgres://u:"+secret+"@db" {
		t.Error("stepDrift modified the plan's items")
	}
	if stepDrift(&reconciler.Step{}, nil) != nil {
		t.Error("no drift should give nil")
	}
}
