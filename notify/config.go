package notify

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/digitops/digitops/internal/httpurl"
	"github.com/digitops/digitops/source/manifest"
)

// SkippedEntry is a notify entry FromConfig left out, and why.
type SkippedEntry struct {
	// Index is the entry's position in the environment's notify: list.
	Index int
	// Provider is the entry's provider.
	Provider string
	// Err says why; it never holds a secret.
	Err error
}

// FromConfig builds the providers of an environment's notify entries,
// reading each secret from secretsDir (serve --notify-secrets-dir; empty:
// entries that need a secret are left out). An entry whose secret or API
// base cannot be read is left out and returned in skipped, never fatal.
// An unknown provider is skipped silently (the loader refuses it).
func FromConfig(entries []manifest.NotifyConfig, secretsDir string) (providers []Provider, skipped []SkippedEntry) {
	for i, n := range entries {
		secret := ""
		if n.SecretRef != "" {
			b, err := readSecret(secretsDir, n.SecretRef)
			if err != nil {
				skipped = append(skipped, SkippedEntry{Index: i, Provider: n.Provider, Err: err})
				continue
			}
			secret = b
		}
		events := make([]Kind, len(n.Events))
		for j, e := range n.Events {
			events[j] = Kind(e)
		}
		switch n.Provider {
		case "webhook":
			providers = append(providers, Webhook{URL: n.URL, Secret: secret, Events: events})
		case "slack":
			providers = append(providers, Slack{URL: secret, Events: events})
		case "github", "gitlab":
			api, err := readAPIBase(secretsDir, n.SecretRef)
			if err != nil {
				skipped = append(skipped, SkippedEntry{Index: i, Provider: n.Provider, Err: err})
				continue
			}
			if n.Provider == "github" {
				providers = append(providers, GitHub{APIURL: cmp.Or(api, "https://api.github.com"), Repository: n.Repository, Token: secret})
			} else {
				providers = append(providers, GitLab{APIURL: cmp.Or(api, "https://gitlab.com"), Project: n.Repository, Token: secret})
			}
		}
	}
	return providers, skipped
}

// readSecret reads a secret file of secretsDir; the name was checked at
// load (a plain file name).
func readSecret(secretsDir, name string) (string, error) {
	if secretsDir == "" {
		return "", fmt.Errorf("secretRef %q: serve has no --notify-secrets-dir", name)
	}
	b, err := os.ReadFile(filepath.Join(secretsDir, name))
	if err != nil {
		return "", fmt.Errorf("secretRef %q: not readable in --notify-secrets-dir", name)
	}
	return strings.TrimSpace(string(b)), nil
}

// readAPIBase reads the API base of a token from the file <secretRef>.url
// beside it in secretsDir: the daemon's operator, never the repository,
// chooses where a token goes. "" when there is no such file.
func readAPIBase(secretsDir, secretRef string) (string, error) {
	b, err := os.ReadFile(filepath.Join(secretsDir, secretRef+".url"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("%s.url: not readable in --notify-secrets-dir", secretRef)
	}
	raw := strings.TrimSpace(string(b))
	if u, ok := httpurl.Parse(raw); !ok || u.RawQuery != "" {
		return "", fmt.Errorf("%s.url: not an http(s) URL without credentials or query", secretRef)
	}
	return raw, nil
}
