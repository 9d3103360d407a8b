package reconciler_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/source/manifest"
)

// TestRender_onlineSeesTheClustersAPIVersions: an online render sees the
// API versions the cluster serves and no others, as Helm's upgrade will:
// DIGIT's common chart asks for batch/v1beta1 (gone since Kubernetes
// 1.25), which Helm's built-in list for client-only renders still has.
func TestRender_onlineSeesTheClustersAPIVersions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, cluster := startCluster(t, false)
	c := &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: "v2", Name: "report", Version: "0.1.0"},
		Templates: []*chart.File{{Name: "templates/cronjob.yaml", Data: []byte(`apiVersion: {{ if .Capabilities.APIVersions.Has "batch/v1beta1" }}batch/v1beta1{{ else }}batch/v1{{ end }}
kind: CronJob
metadata: {name: report}
spec: {schedule: "0 * * * *", jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: r, image: r}]}}}}}
`)}},
	}
	spec := manifest.ReleaseSpec{Name: "report", Namespace: "egov"}
	online, err := reconciler.Render(ctx, spec, c, reconciler.RenderOptions{Cluster: cluster})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(online, "apiVersion: batch/v1\n") {
		t.Errorf("online render:\n%s\nwant batch/v1, the version the cluster serves", online)
	}
	offline, err := reconciler.Render(ctx, spec, c, reconciler.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(offline, "apiVersion: batch/v1beta1\n") {
		t.Errorf("offline render (as helm template):\n%s\nwant batch/v1beta1, from Helm's built-in list", offline)
	}
}
