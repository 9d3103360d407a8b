package reconciler

import (
	"reflect"
	"testing"

	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

func TestHandOver(t *testing.T) {
	install := func(name string, from ...string) Step {
		st := Step{Release: manifest.ReleaseSpec{Name: name, Namespace: "egov"}, Action: ActionInstall, Reason: "not installed"}
		for _, f := range from {
			st.Adopt = append(st.Adopt, Adoption{Object: "ConfigMap/egov/" + name + "-" + f, Owner: "Helm release egov/" + f, FromRelease: "egov/" + f})
		}
		return st
	}
	uninstall := func(name string, action Action) Step {
		return Step{Release: manifest.ReleaseSpec{Name: name, Namespace: "egov"}, Action: action, Reason: "no longer in Git"}
	}
	tests := []struct {
		name string
		// steps is the plan; want the HandsOver of its last step, and
		// wantReason that step's reason.
		steps      []Step
		want       []HandOver
		wantReason string
	}{
		{
			name:       "a renamed release hands its objects to the new one",
			steps:      []Step{install("user", "egov-user"), uninstall("egov-user", ActionUninstall)},
			want:       []HandOver{{Object: "ConfigMap/egov/user-egov-user", To: "user"}},
			wantReason: "no longer in Git; leaves 1 object(s) to user, after it installs",
		},
		{
			name:       "two installs take from one release",
			steps:      []Step{install("a", "old"), install("b", "old"), uninstall("old", ActionUninstall)},
			want:       []HandOver{{Object: "ConfigMap/egov/a-old", To: "a"}, {Object: "ConfigMap/egov/b-old", To: "b"}},
			wantReason: "no longer in Git; leaves 2 object(s) to a, b, after it installs",
		},
		{
			name:       "objects taken from no Helm release hand nothing over",
			steps:      []Step{{Release: manifest.ReleaseSpec{Name: "user"}, Action: ActionInstall, Adopt: []Adoption{{Object: "ConfigMap/egov/x", Owner: "no Helm owner"}}}, uninstall("egov-user", ActionUninstall)},
			wantReason: "no longer in Git",
		},
		{
			name:       "a release of another namespace is not the one taken from",
			steps:      []Step{install("user", "egov-user"), {Release: manifest.ReleaseSpec{Name: "egov-user", Namespace: "other"}, Action: ActionUninstall, Reason: "no longer in Git"}},
			wantReason: "no longer in Git",
		},
		{
			name:       "a suspended prune is not touched",
			steps:      []Step{install("user", "egov-user"), uninstall("egov-user", ActionSkip)},
			wantReason: "no longer in Git",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := &Plan{Steps: tt.steps}
			handOver(plan)
			last := plan.Steps[len(plan.Steps)-1]
			if !reflect.DeepEqual(last.HandsOver, tt.want) {
				t.Errorf("HandsOver = %v, want %v", last.HandsOver, tt.want)
			}
			if last.Reason != tt.wantReason {
				t.Errorf("Reason = %q, want %q", last.Reason, tt.wantReason)
			}
		})
	}
}

func TestWithoutObjects(t *testing.T) {
	m := `---
# Source: svc/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: egov-user
data: {a: b}
---
# Source: svc/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: egov-user
  namespace: egov
---
# Source: svc/templates/role.yaml
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader
`
	got, err := withoutObjects(m, "egov", map[string]bool{"ConfigMap/egov/egov-user": true, "ClusterRole/reader": true})
	if err != nil {
		t.Fatal(err)
	}
	want := `---
# Source: svc/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: egov-user
  namespace: egov
`
	if got != want {
		t.Errorf("withoutObjects =\n%s\nwant\n%s", got, want)
	}
	if _, err := withoutObjects("---\nkind: [\n", "egov", nil); err == nil {
		t.Error("a manifest that does not parse: no error")
	}
}

func TestRenderedName(t *testing.T) {
	tests := []struct {
		doc, want string
	}{
		{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", "ConfigMap/egov/a"},
		{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: other}\n", "ConfigMap/other/a"},
		// Cluster-scoped: no namespace, whatever the manifest says.
		{"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: digit-user}\n", "ClusterRole/digit-user"},
		{"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: digit-user, namespace: egov}\n", "ClusterRole/digit-user"},
		{"apiVersion: v1\nkind: Namespace\nmetadata: {name: egov}\n", "Namespace/egov"},
	}
	for _, tt := range tests {
		objs, err := kube.Objects(tt.doc)
		if err != nil || len(objs) != 1 {
			t.Fatalf("%q: %v", tt.doc, err)
		}
		if got := renderedName(objs[0], "egov"); got != tt.want {
			t.Errorf("renderedName(%q) = %q, want %q", tt.doc, got, tt.want)
		}
	}
}
