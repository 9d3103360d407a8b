package reconciler

import (
	"maps"
	"slices"
	"testing"

	"github.com/digitops/digitops/reconciler/kube"
)

// TestHelmEnv_labels: the replica and the commit label a revision when
// known; when not, they are the labels a write must drop.
func TestHelmEnv_labels(t *testing.T) {
	step := &Step{Desired: Desired{ChartDigest: "c", ValuesDigest: "v"}}
	for _, tc := range []struct {
		name            string
		replica, commit string            // what the write knows
		want            map[string]string // the labels beyond the four always set
		unknown         []string          // the labels to drop
	}{
		{"both known", "r-0", "abc", map[string]string{kube.LabelReplica: "r-0", kube.LabelCommit: "abc"}, nil},
		{"no shard", "", "abc", map[string]string{kube.LabelCommit: "abc"}, []string{kube.LabelReplica}},
		{"directory read as it is", "", "", map[string]string{}, []string{kube.LabelReplica, kube.LabelCommit}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := helmEnv{environment: "dev", replica: tc.replica, commit: tc.commit}.labels(step, 3)
			want := map[string]string{kube.LabelEnvironment: "dev", kube.LabelChartDigest: "c", kube.LabelValuesDigest: "v", kube.LabelRevision: "3"}
			maps.Copy(want, tc.want)
			if !maps.Equal(got, want) {
				t.Errorf("labels = %v, want %v", got, want)
			}
			if u := unknownLabels(got); !slices.Equal(u, tc.unknown) {
				t.Errorf("unknownLabels = %v, want %v", u, tc.unknown)
			}
		})
	}
}
