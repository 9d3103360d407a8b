package reconciler

import (
	"fmt"
	"testing"

	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

// TestOwnerOfNamespace: an install owns its namespace only when its chart
// renders that very Namespace (DIGIT's cluster-configs creates its own).
func TestOwnerOfNamespace(t *testing.T) {
	const ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n"
	tests := []struct {
		name     string // the case
		rendered string // the install's rendered manifest
		want     bool   // whether the release owns the namespace egov
	}{
		{"not rendered", "", false},
		{"no Namespace", "---\n# Source: c/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: egov\n", false},
		{"its own namespace", "---\n# Source: c/templates/ns.yaml\n" + fmt.Sprintf(ns, "backbone") + "---\n# Source: c/templates/ns.yaml\n" + fmt.Sprintf(ns, "egov"), true},
		{"other namespaces only", "---\n# Source: c/templates/ns.yaml\n" + fmt.Sprintf(ns, "backbone"), false},
		{"another kind named Namespace", "---\n# Source: c/templates/x.yaml\napiVersion: example.org/v1\nkind: Namespace\nmetadata:\n  name: egov\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step := &Step{Release: manifest.ReleaseSpec{Name: "cluster-configs", Namespace: "egov"}, rendered: tt.rendered}
			got := ownerOfNamespace(step)
			if (got != nil) != tt.want {
				t.Fatalf("ownerOfNamespace = %+v, want owner %v", got, tt.want)
			}
			if got != nil && (got.release != "cluster-configs" || got.annotations()[kube.HelmReleaseNamespaceAnnotation] != "egov") {
				t.Errorf("owner = %+v, annotations %v", got, got.annotations())
			}
		})
	}
}
