package reconciler

import (
	"github.com/digitops/digitops/reconciler/drift"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/digitops/digitops/reconciler/kube"
)

// deploymentYAML is a DIGIT-shaped Deployment: a timestamp on the pod
// template, an env list, a ConfigMap read through valueFrom.
func deploymentYAML(replicas, stamp, image string, env ...string) string {
	var b strings.Builder
	b.WriteString(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: egov-user
  namespace: egov
spec:
  replicas: ` + replicas + `
  template:
    metadata:
      annotations:
        deployment-timestamp: "` + stamp + `"
    spec:
      containers:
        - name: egov-user
          image: ` + image + `
          env:
`)
	for _, e := range env {
		b.WriteString("            - name: " + e + "\n              value: \"1\"\n")
	}
	b.WriteString(`            - name: TZ
              valueFrom:
                configMapKeyRef: {name: egov-config, key: timezone}
`)
	return b.String()
}

// TestReleaseRender_decide: which fields keep their deployed value, which
// workloads restart, and whether anything is left to upgrade.
func TestReleaseRender_decide(t *testing.T) {
	const ts = "/spec/template/metadata/annotations/deployment-timestamp"
	user := "Deployment/egov/egov-user"
	cases := []struct {
		name string
		// deployed and rendered are the manifests of the deployed revision
		// and of the new render.
		deployed, rendered string
		// volatile are the JSON pointers of egov-user that render
		// differently on every run.
		volatile []string
		// changed are the ConfigMaps and Secrets other releases change.
		changed map[string]configChange
		// wantUnchanged: nothing left to upgrade.
		wantUnchanged bool
		// wantStamp is the timestamp the render carries after the decision.
		wantStamp string
		// wantRestarts are the restart reasons, by workload.
		wantRestarts map[string]string
	}{{
		name:          "only the timestamp moved: recorded, deployed stamp kept",
		deployed:      deploymentYAML("1", "20260101000000", "user:1", "A"),
		rendered:      deploymentYAML("1", "20261205120000", "user:1", "A"),
		volatile:      []string{ts},
		wantUnchanged: true,
		wantStamp:     "20260101000000",
	}, {
		name:      "replicas moved: upgraded, the pods keep their stamp",
		deployed:  deploymentYAML("1", "20260101000000", "user:1", "A"),
		rendered:  deploymentYAML("3", "20261205120000", "user:1", "A"),
		volatile:  []string{ts},
		wantStamp: "20260101000000",
	}, {
		name:          "an env list in another order is not a change",
		deployed:      deploymentYAML("1", "x", "user:1", "A", "B", "C"),
		rendered:      deploymentYAML("1", "x", "user:1", "C", "A", "B"),
		wantUnchanged: true,
		wantStamp:     "x",
	}, {
		name:         "the image moved: the pod template changed, the stamp moves",
		deployed:     deploymentYAML("1", "20260101000000", "user:1", "A"),
		rendered:     deploymentYAML("1", "20261205120000", "user:2", "A"),
		volatile:     []string{ts},
		wantStamp:    "20261205120000",
		wantRestarts: map[string]string{user: "its pod template changed at /spec/template/spec/containers/name=egov-user/image"},
	}, {
		name:         "a ConfigMap it reads changed in another release: the stamp moves",
		deployed:     deploymentYAML("1", "20260101000000", "user:1", "A"),
		rendered:     deploymentYAML("1", "20261205120000", "user:1", "A"),
		volatile:     []string{ts},
		changed:      map[string]configChange{"ConfigMap/egov/egov-config": {keys: []string{"data.timezone"}}},
		wantStamp:    "20261205120000",
		wantRestarts: map[string]string{user: "ConfigMap egov/egov-config data.timezone changed"},
	}, {
		name:          "a key of that ConfigMap it does not read changed: recorded",
		deployed:      deploymentYAML("1", "20260101000000", "user:1", "A"),
		rendered:      deploymentYAML("1", "20261205120000", "user:1", "A"),
		volatile:      []string{ts},
		changed:       map[string]configChange{"ConfigMap/egov/egov-config": {keys: []string{"data.db-host"}}},
		wantUnchanged: true,
		wantStamp:     "20260101000000",
	}, {
		name:          "a ConfigMap it does not read changed: recorded",
		deployed:      deploymentYAML("1", "20260101000000", "user:1", "A"),
		rendered:      deploymentYAML("1", "20261205120000", "user:1", "A"),
		volatile:      []string{ts},
		changed:       map[string]configChange{"ConfigMap/egov/other": {keys: []string{"data.x"}}},
		wantUnchanged: true,
		wantStamp:     "20260101000000",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			deployed, err := kube.Objects(tc.deployed)
			if err != nil {
				t.Fatal(err)
			}
			rendered, err := kube.Objects(tc.rendered)
			if err != nil {
				t.Fatal(err)
			}
			r := newReleaseRender("egov", deployed, rendered)
			if tc.volatile != nil {
				r.volatile = map[string][]string{user: tc.volatile}
			}
			v := r.decide(r.differences(), tc.changed)
			if v.unchanged != tc.wantUnchanged {
				t.Errorf("unchanged = %v, want %v", v.unchanged, tc.wantUnchanged)
			}
			stamp, _ := drift.PointerGet(r.rendered[user].Object, ts)
			if stamp != tc.wantStamp {
				t.Errorf("deployment-timestamp = %v, want %v", stamp, tc.wantStamp)
			}
			got := map[string]string{}
			for _, rs := range v.restarts {
				got[rs.Workload] = rs.Why
			}
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, tc.wantRestarts) {
				t.Errorf("restarts = %v, want %v", got, tc.wantRestarts)
			}
		})
	}
}

// TestReleaseRender_manifestKeepsOrderAndStamp: the manifest Helm installs
// carries the deployed order and stamp, and its "# Source:" lines.
func TestReleaseRender_manifestKeepsOrderAndStamp(t *testing.T) {
	deployedM := "---\n# Source: user/templates/deployment.yaml\n" + deploymentYAML("1", "old", "user:1", "A", "B")
	renderedM := "---\n# Source: user/templates/deployment.yaml\n" + deploymentYAML("2", "new", "user:1", "B", "A")
	deployed, _ := kube.Objects(deployedM)
	rendered, _ := kube.Objects(renderedM)
	r := newReleaseRender("egov", deployed, rendered)
	r.volatile = map[string][]string{"Deployment/egov/egov-user": {"/spec/template/metadata/annotations/deployment-timestamp"}}
	v := r.decide(r.differences(), nil)
	if v.unchanged {
		t.Fatal("replicas 1 → 2 decided unchanged")
	}
	m := r.manifest(renderedM)
	if !strings.HasPrefix(m, "---\n# Source: user/templates/deployment.yaml\n") {
		t.Errorf("the source line is lost:\n%s", m)
	}
	objs, err := kube.Objects(m)
	if err != nil || len(objs) != 1 {
		t.Fatalf("%v objects, %v", len(objs), err)
	}
	tpl, _ := drift.PointerGet(objs[0].Object, "/spec/template")
	want, _ := drift.PointerGet(deployed[0].Object, "/spec/template")
	if !reflect.DeepEqual(tpl, want) {
		t.Errorf("pod template = %v\nwant the deployed one %v", tpl, want)
	}
	if n, _ := drift.PointerGet(objs[0].Object, "/spec/replicas"); n != int64(2) {
		t.Errorf("replicas = %v, want 2", n)
	}
}

// TestReleaseRender_configChanges: the keys of a ConfigMap or Secret that
// moved, volatile fields and metadata aside.
func TestReleaseRender_configChanges(t *testing.T) {
	cm := func(tz, stamp string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: egov-config\n  namespace: egov\n  labels: {stamp: \"" + stamp + "\"}\ndata:\n  timezone: " + tz + "\n  db: x\n"
	}
	for _, tc := range []struct {
		name               string
		deployed, rendered string
		want               map[string]configChange
	}{
		{"a key moved", cm("UTC", "a"), cm("IST", "a"), map[string]configChange{"ConfigMap/egov/egov-config": {keys: []string{"data.timezone"}}}},
		{"only metadata moved", cm("UTC", "a"), cm("UTC", "b"), map[string]configChange{}},
		{"created", "", cm("UTC", "a"), map[string]configChange{"ConfigMap/egov/egov-config": {}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deployed, _ := kube.Objects(tc.deployed)
			rendered, _ := kube.Objects(tc.rendered)
			r := newReleaseRender("egov", deployed, rendered)
			if got := r.configChanges(r.differences()); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("configChanges = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestReadsConfigs: every way a pod reads a ConfigMap or a Secret.
func TestReadsConfigs(t *testing.T) {
	objs, err := kube.Objects(`apiVersion: apps/v1
kind: Deployment
metadata: {name: w}
spec:
  template:
    spec:
      initContainers:
        - name: init
          envFrom: [{secretRef: {name: db-secret}}]
      containers:
        - name: app
          env:
            - {name: A, valueFrom: {configMapKeyRef: {name: egov-config, key: a}}}
            - {name: B, valueFrom: {secretKeyRef: {name: egov-secret, key: b}}}
          envFrom: [{configMapRef: {name: env-cm}}]
      volumes:
        - {name: v1, configMap: {name: vol-cm}}
        - {name: v2, secret: {secretName: vol-secret}}
        - name: v3
          projected: {sources: [{configMap: {name: proj-cm}}, {secret: {name: proj-secret}}]}
`)
	if err != nil {
		t.Fatal(err)
	}
	pod, _ := drift.PointerGet(objs[0].Object, "/spec/template")
	got := readsConfigs(pod.(map[string]any), "egov")
	want := []string{"Secret/egov/db-secret", "ConfigMap/egov/egov-config#a", "Secret/egov/egov-secret#b", "ConfigMap/egov/env-cm", "ConfigMap/egov/vol-cm", "Secret/egov/vol-secret", "ConfigMap/egov/proj-cm", "Secret/egov/proj-secret"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("readsConfigs = %v\nwant %v", got, want)
	}
}

// TestReleaseRender_renderTimes: a difference that is the time of the
// render, written as the deployed value was, needs no second render; any
// other does.
func TestReleaseRender_renderTimes(t *testing.T) {
	now := time.Now()
	stamp := now.Format("20060102150405")
	from, to := now.Add(-2*time.Second), now.Add(2*time.Second)
	const ts = "/spec/template/metadata/annotations/deployment-timestamp"
	for _, tc := range []struct {
		name               string
		deployed, rendered string
		want               bool
	}{
		{"DIGIT's stamp", deploymentYAML("1", "20250101000000", "u:1", "A"), deploymentYAML("1", stamp, "u:1", "A"), true},
		{"RFC 3339", deploymentYAML("1", "2025-01-01T00:00:00Z", "u:1", "A"), deploymentYAML("1", now.UTC().Format(time.RFC3339), "u:1", "A"), true},
		{"a stamp and a real change", deploymentYAML("1", "20250101000000", "u:1", "A"), deploymentYAML("1", stamp, "u:2", "A"), false},
		{"a time set in Git, not now", deploymentYAML("1", "20250101000000", "u:1", "A"), deploymentYAML("1", "20250601000000", "u:1", "A"), false},
		{"a random string", deploymentYAML("1", "x8Kd02", "u:1", "A"), deploymentYAML("1", "Q1mz9a", "u:1", "A"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deployed, _ := kube.Objects(tc.deployed)
			rendered, _ := kube.Objects(tc.rendered)
			r := newReleaseRender("egov", deployed, rendered)
			got, ok := r.renderTimes(r.differences(), from, to)
			if ok != tc.want {
				t.Fatalf("renderTimes ok = %v, want %v (%v)", ok, tc.want, got)
			}
			if ok && !reflect.DeepEqual(got, map[string][]string{"Deployment/egov/egov-user": {ts}}) {
				t.Errorf("renderTimes = %v", got)
			}
		})
	}
}
