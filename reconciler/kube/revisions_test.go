package kube

import (
	"context"
	"strconv"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
	helmtime "helm.sh/helm/v3/pkg/time"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestReadRevisions: every revision of one release, newest first, with
// Helm's status, time and description, the chart, and the release's own
// labels without the storage's; another release's are left out.
func TestReadRevisions(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	secret := func(name string, version int, status release.Status, desc string, own map[string]string) *corev1.Secret {
		rel := &release.Release{Name: name, Namespace: "egov", Version: version, Manifest: "kind: ConfigMap\n",
			Info:  &release.Info{Status: status, Description: desc, LastDeployed: helmtime.Time{Time: at.Add(time.Duration(version) * time.Minute)}},
			Chart: &chart.Chart{Metadata: &chart.Metadata{Name: "egov-user", Version: "1.0." + strconv.Itoa(version), AppVersion: "2.9"}}}
		data, err := encodeRelease(rel)
		if err != nil {
			t.Fatal(err)
		}
		labels := map[string]string{"name": name, "owner": "helm", "status": string(status), "version": strconv.Itoa(version), "modifiedAt": "1"}
		for k, v := range own {
			labels[k] = v
		}
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "egov", Name: storageSecretName(name, version), Labels: labels}, Type: "helm.sh/release.v1", Data: map[string][]byte{"release": data}}
	}
	cs := fake.NewClientset(
		secret("egov-user", 1, release.StatusSuperseded, "Install complete", map[string]string{LabelCommit: "aaa"}),
		secret("egov-user", 3, release.StatusDeployed, "Rollback to 1", map[string]string{LabelCommit: "aaa", LabelReplica: "r-1"}),
		secret("egov-user", 2, release.StatusSuperseded, "Upgrade complete", map[string]string{LabelCommit: "bbb"}),
		secret("pgr-services", 1, release.StatusDeployed, "Install complete", nil),
	)
	got, err := ReadRevisions(context.Background(), &Cluster{Clientset: cs}, "egov", "egov-user")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		version int               // the revision
		status  release.Status    // Helm's status
		desc    string            // Helm's description
		labels  map[string]string // its own labels
	}{
		{3, release.StatusDeployed, "Rollback to 1", map[string]string{LabelCommit: "aaa", LabelReplica: "r-1"}},
		{2, release.StatusSuperseded, "Upgrade complete", map[string]string{LabelCommit: "bbb"}},
		{1, release.StatusSuperseded, "Install complete", map[string]string{LabelCommit: "aaa"}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d revisions, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		r := got[i]
		if r.Version != w.version || r.Status != w.status || r.Description != w.desc || len(r.Labels) != len(w.labels) {
			t.Errorf("revision %d = %d %s %q %v, want %d %s %q %v", i, r.Version, r.Status, r.Description, r.Labels, w.version, w.status, w.desc, w.labels)
		}
		for k, v := range w.labels {
			if r.Labels[k] != v {
				t.Errorf("revision %d label %s = %q, want %q", r.Version, k, r.Labels[k], v)
			}
		}
		if wantChart := "egov-user-1.0." + strconv.Itoa(w.version); r.Chart != wantChart || r.AppVersion != "2.9" {
			t.Errorf("revision %d chart %s %s, want %s 2.9", r.Version, r.Chart, r.AppVersion, wantChart)
		}
		if !r.Updated.Equal(at.Add(time.Duration(w.version)*time.Minute)) || r.Manifest == "" {
			t.Errorf("revision %d updated %s, manifest %q", r.Version, r.Updated, r.Manifest)
		}
	}
	none, err := ReadRevisions(context.Background(), &Cluster{Clientset: cs}, "egov", "nothing")
	if err != nil || len(none) != 0 {
		t.Errorf("a release with no revision: %v, %v; want none, no error", none, err)
	}
}
