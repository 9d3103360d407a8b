package manifest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/digitops/digitops/internal/httpurl"
)

// NotifyConfig is one entry of an environment's notify: list: where the
// daemon tells what it did. Its secret is never in the repository:
// SecretRef names a file in the daemon's --notify-secrets-dir.
type NotifyConfig struct {
	// Provider is webhook, slack, github or gitlab.
	Provider string `yaml:"provider"`
	// SecretRef names the secret: Slack's incoming-webhook URL, the
	// webhook's HMAC key, or the GitHub or GitLab token.
	SecretRef string `yaml:"secretRef"`
	// URL is where a webhook POSTs. Not allowed for github and gitlab: the
	// API base receives the token, so it is the daemon's to choose (the
	// file <secretRef>.url beside the token; https://api.github.com and
	// https://gitlab.com when absent).
	URL string `yaml:"url"`
	// Repository is github's owner/name or gitlab's project path
	// (group/subgroup/name) or numeric id.
	Repository string `yaml:"repository"`
	// Events limit the kinds sent (sync-succeeded, sync-failed,
	// drift-detected, drift-corrected); empty sends every kind.
	Events []string `yaml:"events"`
}

// NotifyEvents are the event kinds a notify entry may list.
func NotifyEvents() []string {
	return []string{"sync-started", "sync-succeeded", "sync-failed", "drift-detected", "drift-corrected", "rollout-promoted", "rollout-halted", "non-fast-forward"}
}

// check returns what is wrong with the entry, "" when nothing.
func (n NotifyConfig) check() string {
	switch n.Provider {
	case "webhook":
		if n.URL == "" {
			return "provider webhook needs url"
		}
	case "slack":
		if n.SecretRef == "" {
			return "provider slack needs secretRef (the file holding the incoming-webhook URL)"
		}
	case "github", "gitlab":
		if n.SecretRef == "" || n.Repository == "" {
			return fmt.Sprintf("provider %s needs secretRef (the token's file) and repository", n.Provider)
		}
		if n.URL != "" {
			return fmt.Sprintf("url is not allowed for provider %s: the API base receives the token, so the daemon chooses it (write it in the file %s.url beside the token in --notify-secrets-dir)", n.Provider, n.SecretRef)
		}
		if !repositoryPath(n.Repository, n.Provider == "gitlab") {
			return fmt.Sprintf("repository %q is not a %s repository (%s)", n.Repository, n.Provider, map[bool]string{false: "owner/name", true: "group/name, group/subgroup/name or a project id"}[n.Provider == "gitlab"])
		}
	default:
		return fmt.Sprintf("unknown provider %q (want webhook, slack, github or gitlab)", n.Provider)
	}
	if n.SecretRef != "" && !fileName(n.SecretRef) {
		return fmt.Sprintf("secretRef %q is not a file name (lower-case letters, digits, '.', '-', '_')", n.SecretRef)
	}
	if n.URL != "" {
		if _, ok := httpurl.Parse(n.URL); !ok {
			return "url must be an http(s) URL without credentials"
		}
	}
	for _, e := range n.Events {
		if !slices.Contains(NotifyEvents(), e) {
			return fmt.Sprintf("unknown event %q (want %s)", e, orList(NotifyEvents()))
		}
	}
	return ""
}

// fileName reports whether s is a plain file name: lower-case letters,
// digits, '.', '-' and '_', starting and ending with a letter or digit, at
// most 63 characters (no path, no "..").
func fileName(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i, c := range s {
		alnum := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		if (i == 0 || i == len(s)-1) && !alnum {
			return false
		}
		if !alnum && c != '.' && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// repositoryPath reports whether s is owner/name (nested groups too when
// nested), each part letters, digits, '.', '-' and '_', never "." or "..":
// it goes into an API path. A numeric project id passes when nested (GitLab).
func repositoryPath(s string, nested bool) bool {
	parts := strings.Split(s, "/")
	if nested && len(parts) == 1 && s != "" && strings.Trim(s, "0123456789") == "" {
		return true
	}
	if len(parts) < 2 || (!nested && len(parts) != 2) || len(parts) > 20 {
		return false
	}
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || len(p) > 100 {
			return false
		}
		for _, c := range p {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
