package drift

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/digitops/digitops/source/manifest"
)

func fixture(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "compare", name))
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return u
}

func TestCompareObject(t *testing.T) {
	const secret = "s3cret-from-values"
	tests := []struct {
		name string
		// config is what the release deployed, live the object in the
		// cluster (both files under testdata/compare).
		config, live string
		// ignore are the release's ignore rules.
		ignore []manifest.DriftIgnoreRule
		// allow are extra allowed managers.
		allow []string
		// want are the drift items as "kind path by manager".
		want []string
	}{
		{
			name:   "kubectl edits and labels are drift; HPA replicas, defaults, normalised quantities, status and timestamps are not",
			config: "deployment.config.yaml", live: "deployment-edited.live.yaml",
			want: []string{
				"added /metadata/labels/team by kubectl-label",
				"added /spec/template/spec/containers/name=app/env/name=DEBUG by kubectl-edit",
				"changed /spec/template/spec/containers/name=app/image by kubectl-edit",
			},
		},
		{
			name:   "an ignore rule and an allowed manager silence their fields",
			config: "deployment.config.yaml", live: "deployment-edited.live.yaml",
			ignore: []manifest.DriftIgnoreRule{{Kind: "deployment", Name: "a*", Paths: []string{"/spec/template/spec/containers/*/image"}}},
			allow:  []string{"kubectl-l*"},
			want:   []string{"added /spec/template/spec/containers/name=app/env/name=DEBUG by kubectl-edit"},
		},
		{
			name:   "an ignore rule without paths ignores the object",
			config: "deployment.config.yaml", live: "deployment-edited.live.yaml",
			ignore: []manifest.DriftIgnoreRule{{Name: "app"}},
		},
		{
			name:   "a value only Helm's request wrote (a mutating webhook) is not drift",
			config: "deployment.config.yaml", live: "deployment-clean.live.yaml",
		},
		{
			name:   "a field the chart sets that is gone is drift, with no manager to name",
			config: "deployment.config.yaml", live: "deployment-removed.live.yaml",
			// The only env var went, and with it the list.
			want: []string{"removed /spec/template/spec/containers/name=app/env by "},
		},
		{
			name:   "without managedFields, changed values are drift and additions are not",
			config: "deployment.config.yaml", live: "deployment-unmanaged.live.yaml",
			want: []string{
				"changed /spec/replicas by ",
				"changed /spec/template/spec/containers/name=app/image by ",
			},
		},
		{
			name:   "Secret data is compared as stored and masked",
			config: "secret.config.yaml", live: "secret.live.yaml",
			want: []string{"changed /data/password by kubectl-edit"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := newCompareOptions(manifest.ReleaseSpec{Name: "app", SecretValues: []string{secret}},
				manifest.SyncPolicy{DriftAllowManagers: tt.allow, DriftIgnore: tt.ignore})
			got := compareObject(fixture(t, tt.config), fixture(t, tt.live), opts)
			var lines []string
			for _, f := range got {
				lines = append(lines, string(f.Kind)+" "+f.Path+" by "+f.Manager)
				for _, s := range []string{f.Before, f.After, f.Path, f.Object} {
					if strings.Contains(s, secret) || strings.Contains(s, base64.StdEncoding.EncodeToString([]byte(secret))) || strings.Contains(s, "aGFuZC1zZXQ") {
						t.Errorf("secret in drift item %+v", f.Item)
					}
				}
			}
			if strings.Join(lines, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("drift:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestApplyFindings(t *testing.T) {
	// Correcting the edited Deployment restores the chart's fields, drops
	// the foreign additions and keeps what allowed managers own.
	opts := newCompareOptions(manifest.ReleaseSpec{Name: "app"}, manifest.SyncPolicy{})
	config, live := fixture(t, "deployment.config.yaml"), fixture(t, "deployment-edited.live.yaml")
	removed := fixture(t, "deployment-removed.live.yaml")
	for _, obj := range []*unstructured.Unstructured{live, removed} {
		if err := applyFindings(obj, compareObject(config, obj, opts)); err != nil {
			t.Fatal(err)
		}
		if left := compareObject(config, obj, opts); len(left) != 0 {
			t.Errorf("drift left after correction: %v", left)
		}
	}
	if r, _, _ := unstructured.NestedInt64(live.Object, "spec", "replicas"); r != 7 {
		t.Errorf("HPA replicas = %d after correction, want 7", r)
	}
	if _, ok := live.GetLabels()["team"]; ok {
		t.Error("added label kept")
	}
}

func TestValuesEqual(t *testing.T) {
	tests := []struct {
		// a is the deployed value, b the live one.
		a, b any
		want bool
	}{
		{int64(2), float64(2), true},
		{"500m", 0.5, true},
		{"1Gi", "1024Mi", true},
		{"1Gi", "1G", false},
		{"v1", "v2", false},
		{map[string]any{"a": nil, "b": "x"}, map[string]any{"b": "x"}, true},
		{[]any{"a", "b"}, []any{"b", "a"}, false},
		{true, "true", false},
	}
	for _, tt := range tests {
		if got := valuesEqual(tt.a, tt.b); got != tt.want {
			t.Errorf("valuesEqual(%#v, %#v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// A keyed list whose items share a key (an env list naming a variable
// twice): managedFields cannot tell who moved such items, so the list is
// compared in order, whole, and a correction puts it back whole.
func TestCompareObject_duplicateKeys(t *testing.T) {
	obj := func(env string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: svc, namespace: egov}
spec:
  template:
    spec:
      containers:
        - name: app
          image: egovio/svc:v1
          env: `+env+`
`), &u.Object); err != nil {
			t.Fatal(err)
		}
		return u
	}
	const deployed = `[{name: A, value: "1"}, {name: B, value: b}, {name: A, value: "2"}]`
	opts := newCompareOptions(manifest.ReleaseSpec{Name: "svc"}, manifest.SyncPolicy{})
	tests := []struct {
		name, live string
		// want are the drift items as "kind path".
		want []string
	}{
		{name: "same order: no drift", live: deployed},
		{name: "server defaults inside items: no drift", live: `[{name: A, value: "1", extra: x}, {name: B, value: b}, {name: A, value: "2"}]`},
		{name: "the duplicates swapped", live: `[{name: A, value: "2"}, {name: B, value: b}, {name: A, value: "1"}]`, want: []string{"changed /spec/template/spec/containers/name=app/env"}},
		{name: "one duplicate gone", live: `[{name: A, value: "1"}, {name: B, value: b}]`, want: []string{"changed /spec/template/spec/containers/name=app/env"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := obj(tt.live)
			got := compareObject(obj(deployed), live, opts)
			var lines []string
			for _, f := range got {
				lines = append(lines, string(f.Kind)+" "+f.Path)
			}
			if strings.Join(lines, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("drift:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(tt.want, "\n"))
			}
			if err := applyFindings(live, got); err != nil {
				t.Fatal(err)
			}
			if left := compareObject(obj(deployed), live, opts); len(left) != 0 {
				t.Errorf("drift left after correction: %v", left)
			}
		})
	}
}
