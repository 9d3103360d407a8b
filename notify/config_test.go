package notify

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/digitops/digitops/source/manifest"
)

// TestFromConfig: each provider gets its secret (and, for GitHub and
// GitLab, the API base beside it) from the secrets directory; an entry
// whose secret or API base cannot be read is left out and says why.
func TestFromConfig(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"hook":    "k\n",
		"slack":   "https://hooks.slack.example/x\n",
		"gh":      "ghtoken",
		"gh.url":  "https://github.example/api/v3",
		"gl":      "gltoken",
		"bad":     "t",
		"bad.url": "https://user:pw@gitlab.example",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	entries := []manifest.NotifyConfig{
		{Provider: "webhook", URL: "https://hooks.example/digitops", SecretRef: "hook", Events: []string{"sync-failed"}},
		{Provider: "slack", SecretRef: "slack"},
		{Provider: "github", SecretRef: "gh", Repository: "egov/envs"},
		{Provider: "gitlab", SecretRef: "gl", Repository: "egov/envs"},
		{Provider: "slack", SecretRef: "missing"},
		{Provider: "gitlab", SecretRef: "bad", Repository: "egov/envs"},
	}
	providers, skipped := FromConfig(entries, dir)
	want := []Provider{
		Webhook{URL: "https://hooks.example/digitops", Secret: "k", Events: []Kind{SyncFailed}},
		Slack{URL: "https://hooks.slack.example/x", Events: []Kind{}},
		GitHub{APIURL: "https://github.example/api/v3", Repository: "egov/envs", Token: "ghtoken"},
		GitLab{APIURL: "https://gitlab.com", Project: "egov/envs", Token: "gltoken"},
	}
	if len(providers) != len(want) {
		t.Fatalf("providers = %#v, want %#v", providers, want)
	}
	for i := range want {
		if got, w := fmt.Sprintf("%#v", providers[i]), fmt.Sprintf("%#v", want[i]); got != w {
			t.Errorf("provider %d = %s, want %s", i, got, w)
		}
	}
	if len(skipped) != 2 || skipped[0].Index != 4 || skipped[1].Index != 5 || skipped[1].Provider != "gitlab" {
		t.Fatalf("skipped = %+v, want entries 4 and 5", skipped)
	}
	for _, s := range skipped {
		if strings.Contains(s.Err.Error(), "pw") {
			t.Errorf("a skipped entry's error shows a secret: %v", s.Err)
		}
	}
	if _, skipped := FromConfig(entries[:1], ""); len(skipped) != 1 {
		t.Errorf("without a secrets directory an entry with a secretRef is kept")
	}
}
