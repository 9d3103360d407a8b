package drift

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestCache_dropUnread(t *testing.T) {
	for _, tc := range []struct {
		name string
		// in is the object as listed or watched; want is what the cache keeps.
		in, want map[string]any
	}{
		{
			name: "status, status managedFields and last-applied dropped",
			in: map[string]any{
				"kind": "Deployment",
				"metadata": map[string]any{
					"name":        "a",
					"annotations": map[string]any{"kubectl.kubernetes.io/last-applied-configuration": "{}", "team": "x"},
					"managedFields": []any{
						map[string]any{"manager": "digitops", "operation": "Update"},
						map[string]any{"manager": "kube-controller-manager", "subresource": "status"},
					},
				},
				"spec":   map[string]any{"replicas": int64(1)},
				"status": map[string]any{"replicas": int64(1)},
			},
			want: map[string]any{
				"kind": "Deployment",
				"metadata": map[string]any{
					"name":          "a",
					"annotations":   map[string]any{"team": "x"},
					"managedFields": []any{map[string]any{"manager": "digitops", "operation": "Update"}},
				},
				"spec": map[string]any{"replicas": int64(1)},
			},
		},
		{
			name: "no metadata",
			in:   map[string]any{"kind": "ConfigMap", "data": map[string]any{"k": "v"}},
			want: map[string]any{"kind": "ConfigMap", "data": map[string]any{"k": "v"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := dropUnread(&unstructured.Unstructured{Object: tc.in})
			if err != nil {
				t.Fatal(err)
			}
			if u := got.(*unstructured.Unstructured); !reflect.DeepEqual(u.Object, tc.want) {
				t.Errorf("got %v\nwant %v", u.Object, tc.want)
			}
		})
	}
	if got, _ := dropUnread("tombstone"); got != "tombstone" {
		t.Errorf("a non-object changed: %v", got)
	}
}

func TestCache_compact(t *testing.T) {
	for _, tc := range []struct {
		name string
		// in is the object as listed or watched; want is what a read of
		// the cache decodes.
		in, want map[string]any
	}{
		{
			name: "dropped as dropUnread drops, kept as JSON",
			in: map[string]any{
				"apiVersion": "apps/v1",
				"kind":       "Deployment",
				"metadata": map[string]any{
					"name": "a", "namespace": "egov", "resourceVersion": "42",
					"annotations":   map[string]any{"kubectl.kubernetes.io/last-applied-configuration": "{}"},
					"managedFields": []any{map[string]any{"manager": "kube-controller-manager", "subresource": "status"}},
				},
				"spec":   map[string]any{"replicas": int64(2), "ratio": 0.5, "paused": false, "selector": nil},
				"status": map[string]any{"replicas": int64(2)},
			},
			// The resourceVersion is the store's, not the JSON's: equal
			// JSON is an unchanged object.
			want: map[string]any{
				"apiVersion": "apps/v1",
				"kind":       "Deployment",
				"metadata": map[string]any{
					"name": "a", "namespace": "egov",
					"annotations":   map[string]any{},
					"managedFields": []any{},
				},
				"spec": map[string]any{"replicas": int64(2), "ratio": 0.5, "paused": false, "selector": nil},
			},
		},
		{
			name: "cluster-scoped",
			in:   map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "egov"}},
			want: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "egov"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inMeta, _, _ := unstructured.NestedString(tc.in, "metadata", "resourceVersion")
			got, err := compact(&unstructured.Unstructured{Object: tc.in})
			if err != nil {
				t.Fatal(err)
			}
			c, ok := got.(*cachedObject)
			if !ok {
				t.Fatalf("compact returned %T", got)
			}
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(c.raw); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(u.Object, tc.want) {
				t.Errorf("decoded %v\nwant %v", u.Object, tc.want)
			}
			if c.Name != u.GetName() || c.Namespace != u.GetNamespace() || c.ResourceVersion != inMeta {
				t.Errorf("store metadata %s/%s@%s, want the object's", c.Namespace, c.Name, c.ResourceVersion)
			}
			if again, _ := compact(c); again != got {
				t.Error("compact of a compact object changed it")
			}
		})
	}
	if got, _ := compact("tombstone"); got != "tombstone" {
		t.Errorf("a non-object changed: %v", got)
	}
}
