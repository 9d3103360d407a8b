package kube

import "testing"

func TestManifestImages(t *testing.T) {
	m := `apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      initContainers: [{name: db, image: egovio/egov-user-db:v1}]
      containers: [{name: app, image: egovio/egov-user:v1}]
---
apiVersion: batch/v1
kind: CronJob
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: c, image: busybox:1.36}, {name: d, image: egovio/egov-user:v1}]
`
	got := ManifestImages(m)
	want := []string{"busybox:1.36", "egovio/egov-user-db:v1", "egovio/egov-user:v1"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
