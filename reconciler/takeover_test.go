package reconciler

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/source/manifest"
)

func TestDecideTakeover(t *testing.T) {
	const dep, svc, cm = "Deployment/egov/egov-user", "Service/egov/egov-user", "ConfigMap/egov/egov-user"
	names := []string{dep, svc, cm}
	kubectl := liveOwner{exists: true, managers: []string{"kubectl-client-side-apply"}}
	tests := []struct {
		name    string
		mode    manifest.AdoptMode
		owners  map[string]liveOwner
		adopt   []Adoption
		refused []string
		// hint: the refusal suggests sync.adopt: helm-releases.
		hint bool
	}{
		{
			name:   "nothing live: a plain install",
			mode:   manifest.AdoptUnowned,
			owners: map[string]liveOwner{},
		},
		{
			name:   "applied by kubectl: adopted, manager named",
			mode:   manifest.AdoptUnowned,
			owners: map[string]liveOwner{dep: kubectl, svc: {exists: true}},
			adopt: []Adoption{
				{Object: dep, Owner: "managed by kubectl-client-side-apply"},
				{Object: svc, Owner: "no Helm owner"},
			},
		},
		{
			name:   "already this release's: Helm takes it itself",
			mode:   manifest.AdoptUnowned,
			owners: map[string]liveOwner{dep: {exists: true, helmRelease: "egov/egov-user"}},
		},
		{
			name:    "another Helm release's: refused, owner named",
			mode:    manifest.AdoptUnowned,
			owners:  map[string]liveOwner{dep: kubectl, cm: {exists: true, helmRelease: "egov/old-user"}},
			adopt:   []Adoption{{Object: dep, Owner: "managed by kubectl-client-side-apply"}},
			refused: []string{cm + " belongs to Helm release egov/old-user"},
			hint:    true,
		},
		{
			name:   "another Helm release's with adopt: helm-releases",
			mode:   manifest.AdoptHelmReleases,
			owners: map[string]liveOwner{cm: {exists: true, helmRelease: "egov/old-user"}},
			adopt:  []Adoption{{Object: cm, Owner: "Helm release egov/old-user", fromRelease: "egov/old-user"}},
		},
		{
			name:    "another digitops environment's release: refused even with helm-releases",
			mode:    manifest.AdoptHelmReleases,
			owners:  map[string]liveOwner{cm: {exists: true, helmRelease: "egov/user-prod", environment: "prod"}},
			refused: []string{cm + " belongs to Helm release egov/user-prod of digitops environment prod, which digitops never takes from it"},
		},
		{
			name:    "adopt: none refuses every live object",
			mode:    manifest.AdoptNone,
			owners:  map[string]liveOwner{svc: kubectl},
			refused: []string{svc + " exists (sync.adopt is none)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decideTakeover("dev", "egov-user", "egov", tt.mode, names, tt.owners)
			if (d.hint != "") != tt.hint {
				t.Errorf("hint = %q, want one: %v", d.hint, tt.hint)
			}
			if !reflect.DeepEqual(d.adopt, tt.adopt) {
				t.Errorf("adopt = %+v, want %+v", d.adopt, tt.adopt)
			}
			if !reflect.DeepEqual(d.refused, tt.refused) {
				t.Errorf("refused = %q, want %q", d.refused, tt.refused)
			}
		})
	}
}

func TestKeepLivePostRenderer(t *testing.T) {
	render := func(stamp string) string {
		return `---
# Source: egov-user/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: egov-user
spec:
  template:
    metadata:
      annotations:
        deployment-timestamp: "` + stamp + `"
    spec:
      containers:
        - name: egov-user
          image: egov-user:v2
---
# Source: egov-user/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: egov-user
spec:
  ports:
    - port: 8080
`
	}
	first, second := render("20261201120000"), render("20261201120001")
	objs, err := kube.Objects(render("20251111000000"))
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]*unstructured.Unstructured{"Deployment/egov/egov-user": objs[0]}
	keep := keptFields(first, second, "egov", live)
	want := map[string]map[string]any{"Deployment/egov/egov-user": {"/spec/template/metadata/annotations/deployment-timestamp": "20251111000000"}}
	if !reflect.DeepEqual(keep, want) {
		t.Fatalf("kept fields = %v, want %v", keep, want)
	}
	out, err := keepLivePostRenderer{namespace: "egov", keep: keep}.Run(bytes.NewBufferString(render("20261201120005")))
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, w := range []string{"deployment-timestamp: \"20251111000000\"", "# Source: egov-user/templates/deployment.yaml", "image: egov-user:v2", "# Source: egov-user/templates/service.yaml", "port: 8080"} {
		if !strings.Contains(got, w) {
			t.Errorf("post-rendered manifest lacks %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, "20261201120005") {
		t.Errorf("the new stamp is still rendered:\n%s", got)
	}
}

// TestKeepLivePostRenderer_liveOrder: a takeover install keeps the live
// order of a list the chart emits in another order (zuul's env list), so
// the adopted Deployment's pod template does not change.
func TestKeepLivePostRenderer_liveOrder(t *testing.T) {
	dep := func(env ...string) string {
		out := "# Source: zuul/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: zuul\nspec:\n  template:\n    spec:\n      containers:\n        - name: zuul\n          ports: [{containerPort: 8080}]\n          env:\n"
		for _, e := range env {
			out += "            - {name: " + e + ", value: \"1\"}\n"
		}
		return out
	}
	objs, err := kube.Objects(dep("A", "B", "C"))
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]*unstructured.Unstructured{"Deployment/egov/zuul": objs[0]}
	out, err := keepLivePostRenderer{namespace: "egov", live: live}.Run(bytes.NewBufferString(dep("C", "A", "B")))
	if err != nil {
		t.Fatal(err)
	}
	got, err := kube.Objects(out.String())
	if err != nil || len(got) != 1 {
		t.Fatalf("%d objects, %v", len(got), err)
	}
	if !sameValue(got[0].Object, objs[0].Object) {
		t.Errorf("post-rendered Deployment differs from the live one:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "# Source: zuul/templates/deployment.yaml") {
		t.Errorf("the source line is lost:\n%s", out.String())
	}
}
