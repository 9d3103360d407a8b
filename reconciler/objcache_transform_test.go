package reconciler

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
