package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/digitops/digitops/daemon/history"
	"github.com/digitops/digitops/daemon/web"
)

// historyBackend is a daemon's API with a canned history; the other
// endpoints are never called.
type historyBackend struct {
	web.Backend
	doc history.Document
	// release is the ?release= of the last request.
	release string
}

// Route answers here: one replica, no --shard.
func (b *historyBackend) Route(string) (string, bool) { return "", true }

func (b *historyBackend) History(_ context.Context, env, release string) (history.Document, error) {
	if env != b.doc.Environment {
		return history.Document{}, web.NotFound("no environment " + env)
	}
	b.release = release
	doc := b.doc
	if release != "" {
		doc.Entries = history.Touching(doc.Entries, release)
	}
	return doc, nil
}

// cannedHistory is three syncs of dev, newest first: a watch-driven
// correction, a failed upgrade from a push, and the first sync's
// installs.
func cannedHistory() history.Document {
	t0 := time.Date(2025, 11, 30, 10, 0, 0, 0, time.UTC)
	rev := "main@sha1:4f1c0d2e9b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d"
	install := func(name string) history.Release {
		return history.Release{Name: name, Namespace: "egov", Action: "install", Outcome: "succeeded", Revision: 1}
	}
	return history.Document{Environment: "dev", Entries: []history.Entry{
		{
			Started: t0.Add(5 * time.Minute), Duration: "412ms", Trigger: history.TriggerWatch, Revision: rev, Commit: rev[10:],
			Result: history.ResultSuccess, Summary: &history.Summary{Correct: 1},
			Releases: []history.Release{{Name: "egov-config", Namespace: "egov", Action: "correct-drift", Outcome: "succeeded", Revision: 1}},
		},
		{
			Started: t0.Add(2 * time.Minute), Duration: "3.412s", Trigger: history.TriggerWebhook, Revision: rev, Commit: rev[10:],
			Result: history.ResultFailure, Summary: &history.Summary{Upgrade: 1, Error: 1, Unchanged: 3},
			Error: "1 release(s) failed: pgr-services",
			Releases: []history.Release{
				{Name: "egov-user", Namespace: "egov", Action: "upgrade", Outcome: "succeeded", Revision: 2},
				{Name: "pgr-services", Namespace: "egov", Action: "error", Outcome: "failed", Error: `environments/dev.yaml:3: release "pgr-services": chart not found`},
			},
		},
		{
			Started: t0, Duration: "21.07s", Trigger: history.TriggerStart, Revision: "main@sha1:0123456789abcdef0123456789abcdef01234567",
			Result: history.ResultSuccess, Summary: &history.Summary{Install: 5},
			Releases:     []history.Release{install("egov-config"), install("egov-mdms-service"), install("egov-user"), install("pgr-services")},
			MoreReleases: 1,
		},
	}}
}

// TestHistoryCommand prints a daemon's history (its real handler on a
// canned backend): the table, one release's rows, JSON, and the errors.
func TestHistoryCommand(t *testing.T) {
	ctx := context.Background()
	backend := &historyBackend{doc: cannedHistory()}
	srv := httptest.NewServer(web.NewHandler(backend, web.Options{Registry: prometheus.NewRegistry(), Log: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)

	r := runCLI(t, ctx, "history", "dev", "--server", srv.URL)
	if r.code != 0 {
		t.Fatalf("history dev: exit %d\n%s", r.code, r.stderr)
	}
	assertGolden(t, "history.txt", r.out)

	r = runCLI(t, ctx, "history", "dev", "egov-user", "--server", srv.URL+"/")
	if r.code != 0 || backend.release != "egov-user" {
		t.Fatalf("history dev egov-user: exit %d, release asked %q\n%s", r.code, backend.release, r.stderr)
	}
	assertGolden(t, "history-release.txt", r.out)

	r = runCLI(t, ctx, "history", "dev", "-o", "json", "--server", srv.URL)
	var got history.Document
	if err := json.Unmarshal([]byte(r.out), &got); r.code != 0 || err != nil {
		t.Fatalf("history -o json: exit %d, %v\n%s%s", r.code, err, r.out, r.stderr)
	}
	want, _ := json.Marshal(cannedHistory())
	if again, _ := json.Marshal(got); string(again) != string(want) {
		t.Errorf("history -o json\n%s\nwant the daemon's document\n%s", again, want)
	}
	for _, key := range []string{`"environment": "dev"`, `"entries": [`, `"trigger": "webhook"`, `"summary": {`, `"moreReleases": 1`, `"revision": 2`} {
		if !strings.Contains(r.out, key) {
			t.Errorf("history -o json lacks %s:\n%s", key, r.out)
		}
	}

	r = runCLI(t, ctx, "history", "dev", "zuul", "--server", srv.URL)
	if r.code != 0 || r.out != "No sync of dev in its history acted on zuul.\n" {
		t.Errorf("a release with no history: exit %d, %q", r.code, r.out)
	}

	// The history is not stored: said after the table.
	backend.doc.Error = "unable to write ConfigMap digitops-system/digitops-history-dev-ef260e9a: forbidden"
	r = runCLI(t, ctx, "history", "dev", "--server", srv.URL)
	if !strings.HasSuffix(r.out, "\nwarning: the daemon keeps this history in memory only: unable to write ConfigMap digitops-system/digitops-history-dev-ef260e9a: forbidden\n") {
		t.Errorf("history with a store error does not warn:\n%s", r.out)
	}

	for _, tt := range []struct {
		args []string // the command line, without --server
		want string   // part of stderr
	}{
		{[]string{"history", "nope"}, "daemon answered 404 Not Found: no environment nope"},
		{[]string{"history", "dev", "-o", "markdown"}, `-o "markdown": history prints text or json`},
		{[]string{"history"}, "accepts between 1 and 2 arg(s)"},
	} {
		r := runCLI(t, ctx, append(tt.args, "--server", srv.URL)...)
		if r.code != 1 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 and %q", tt.args, r.code, r.stderr, tt.want)
		}
	}
}
