package harness

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestParseRequests_byVerbAndDryRun checks that requests are summed by verb,
// dry-run apart, and that leases are left out.
func TestParseRequests_byVerbAndDryRun(t *testing.T) {
	raw := []byte(`# HELP apiserver_request_total Counter of apiserver requests.
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="secrets",scope="namespace",subresource="",verb="LIST",version="v1"} 3
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="configmaps",scope="resource",subresource="",verb="GET",version="v1"} 2
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="",scope="",subresource="",verb="GET",version=""} 5
apiserver_request_total{code="200",component="apiserver",dry_run="All",group="apps",resource="deployments",scope="resource",subresource="",verb="PATCH",version="v1"} 4
apiserver_request_total{code="201",component="apiserver",dry_run="",group="apps",resource="deployments",scope="resource",subresource="",verb="APPLY",version="v1"} 1
apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 9
`)
	got, err := parseRequests(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := map[reqKey]float64{
		{verb: "LIST"}:                3,
		{verb: "GET"}:                 7,
		{verb: "PATCH", dryRun: true}: 4,
		{verb: "APPLY"}:               1,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestSince_subtractsTheScrape checks the deltas of two snapshots.
func TestSince_subtractsTheScrape(t *testing.T) {
	before := snapshot{requests: map[reqKey]float64{{verb: "GET"}: 10, {verb: "LIST"}: 2}, apiserver: time.Second}
	after := snapshot{requests: map[reqKey]float64{{verb: "GET"}: 11, {verb: "LIST"}: 4, {verb: "PATCH"}: 3,
		{verb: "PATCH", dryRun: true}: 2}, apiserver: 3 * time.Second}
	var s Sample
	since(before, after, &s)
	if want := map[string]int{"LIST": 2, "PATCH": 3}; !reflect.DeepEqual(s.Requests, want) {
		t.Errorf("requests %v, want %v", s.Requests, want)
	}
	if want := map[string]int{"PATCH": 2}; !reflect.DeepEqual(s.DryRun, want) {
		t.Errorf("dry-run %v, want %v", s.DryRun, want)
	}
	if s.Writes() != 3 || s.Total() != 7 || s.APIServerCPU != 2*time.Second {
		t.Errorf("writes %d, total %d, apiserver CPU %v; want 3, 7, 2s", s.Writes(), s.Total(), s.APIServerCPU)
	}
}

// TestFlagValue reads both flag forms.
func TestFlagValue(t *testing.T) {
	tests := []struct {
		// args is a command line, name the flag looked up.
		args []string
		name string
		// want and ok are the expected result.
		want string
		ok   bool
	}{
		{args: []string{"kube-apiserver", "--secure-port=6443"}, name: "secure-port", want: "6443", ok: true},
		{args: []string{"etcd", "--listen-client-urls", "http://127.0.0.1:1"}, name: "listen-client-urls", want: "http://127.0.0.1:1", ok: true},
		{args: []string{"kube-apiserver", "--secure-port-x=1"}, name: "secure-port", ok: false},
	}
	for _, tt := range tests {
		got, ok := flagValue(tt.args, tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("flagValue(%v, %q) = %q, %v; want %q, %v", tt.args, tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

// TestProcCPU_self reads this process's own CPU time, which cannot be zero
// after some work.
func TestProcCPU_self(t *testing.T) {
	x := 0
	for i := range 50_000_000 {
		x += i
	}
	_ = x
	if got := procCPU(os.Getpid()); got <= 0 {
		t.Fatalf("CPU time of this process: %v", got)
	}
	if got := procCPU(0); got != 0 {
		t.Fatalf("CPU time of no process: %v", got)
	}
}

// TestSpliceInto replaces only what lies between the markers.
func TestSpliceInto(t *testing.T) {
	p := filepath.Join(t.TempDir(), "b.md")
	if err := os.WriteFile(p, []byte("intro\n"+beginMarker+"\nold\n"+endMarker+"\noutro\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := spliceInto(p, beginMarker, endMarker, "new\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if want := "intro\n" + beginMarker + "\nnew\n" + endMarker + "\noutro\n"; string(b) != want {
		t.Fatalf("got %q, want %q", b, want)
	}
	// A section the file does not have yet is appended, the rest kept.
	if err := spliceInto(p, reactionBegin, reactionEnd, "r\n"); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(p)
	if want := "intro\n" + beginMarker + "\nnew\n" + endMarker + "\noutro\n" + reactionBegin + "\nr\n" + reactionEnd + "\n"; string(b) != want {
		t.Fatalf("got %q, want %q", b, want)
	}
}

// TestStat_medianAndRange summarises three samples.
func TestStat_medianAndRange(t *testing.T) {
	r := &Results{Samples: map[string]map[string][]Sample{"x": {"noop": {
		{Wall: 3 * time.Second, MaxRSS: 10, OK: true, Requests: map[string]int{"GET": 1}},
		{Wall: 1 * time.Second, MaxRSS: 30, OK: true, Requests: map[string]int{"GET": 2}},
		{Wall: 2 * time.Second, MaxRSS: 20, Requests: map[string]int{"GET": 3, "PATCH": 1}},
	}}}}
	st, ok := r.Stat("x", "noop")
	if !ok {
		t.Fatal("no stat")
	}
	if st.Wall != 2*time.Second || st.Min != time.Second || st.Max != 3*time.Second || st.MaxRSS != 30 || st.OK != 2 || st.Requests != 2 {
		t.Fatalf("stat %+v", st)
	}
	if st.Verbs != "GET 3, PATCH 1" {
		t.Fatalf("verbs of the median sample: %q", st.Verbs)
	}
}
