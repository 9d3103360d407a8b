package reconciler

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/digitops/digitops/reconciler/kube"
	"github.com/digitops/digitops/reconciler/takeover"
)

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
	keep := takeover.KeptFields(nondeterministicPaths(first, second, "egov"), live)
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
