package daemon

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/digitops/digitops/notify"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/source/manifest"
)

// notifiers builds the providers of an environment's notify entries,
// reading each secret from the daemon's NotifySecretsDir. An entry whose
// secret is missing is left out and logged (once per sync), never fatal.
func (l *envLoop) notifiers(env *manifest.Environment) []notify.Provider {
	var out []notify.Provider
	for i, n := range env.Notify {
		secret := ""
		if n.SecretRef != "" {
			b, err := l.readNotifySecret(n.SecretRef)
			if err != nil {
				l.log.Warn("notification left out", "index", i, "provider", n.Provider, "error", err)
				continue
			}
			secret = b
		}
		events := make([]notify.Kind, len(n.Events))
		for j, e := range n.Events {
			events[j] = notify.Kind(e)
		}
		switch n.Provider {
		case "webhook":
			out = append(out, notify.Webhook{URL: n.URL, Secret: secret, Events: events})
		case "slack":
			out = append(out, notify.Slack{URL: secret, Events: events})
		case "github", "gitlab":
			api, err := l.notifyAPIBase(n.SecretRef)
			if err != nil {
				l.log.Warn("notification left out", "index", i, "provider", n.Provider, "error", err)
				continue
			}
			if n.Provider == "github" {
				out = append(out, notify.GitHub{APIURL: cmp.Or(api, "https://api.github.com"), Repository: n.Repository, Token: secret})
			} else {
				out = append(out, notify.GitLab{APIURL: cmp.Or(api, "https://gitlab.com"), Project: n.Repository, Token: secret})
			}
		}
	}
	return out
}

// lastProviders returns the providers of the environment's last load.
func (l *envLoop) lastProviders() []notify.Provider {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.providers
}

// readNotifySecret reads a secret file of NotifySecretsDir; the name was
// checked at load (a plain file name).
func (l *envLoop) readNotifySecret(name string) (string, error) {
	dir := l.d.opts.NotifySecretsDir
	if dir == "" {
		return "", fmt.Errorf("secretRef %q: serve has no --notify-secrets-dir", name)
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return "", fmt.Errorf("secretRef %q: not readable in --notify-secrets-dir", name)
	}
	return strings.TrimSpace(string(b)), nil
}

// notifyAPIBase reads the API base of a token from the file <secretRef>.url
// beside it in NotifySecretsDir: the daemon's operator, never the
// repository, chooses where a token goes. "" when there is no such file.
func (l *envLoop) notifyAPIBase(secretRef string) (string, error) {
	b, err := os.ReadFile(filepath.Join(l.d.opts.NotifySecretsDir, secretRef+".url"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("%s.url: not readable in --notify-secrets-dir", secretRef)
	}
	raw := strings.TrimSpace(string(b))
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return "", fmt.Errorf("%s.url: not an http(s) URL without credentials or query", secretRef)
	}
	return raw, nil
}

// notify queues an event of the environment for its providers.
func (l *envLoop) notify(providers []notify.Provider, kind notify.Kind, revision, commit string, releases []string, message string, items []drift.Item) {
	if len(providers) == 0 {
		return
	}
	e := notify.Event{Kind: kind, Environment: l.name, Revision: revision, Commit: commit, Releases: releases, Message: message, URL: l.d.opts.StatusURL}
	for _, it := range items {
		e.Drift = append(e.Drift, it.String())
	}
	l.d.notifier.Notify(providers, e)
}

// notifyDrift tells about the drift a step found: corrected or left.
func (l *envLoop) notifyDrift(providers []notify.Provider, revision, commit string, st *reconciler.Step, corrected bool) {
	if len(st.Drift) == 0 {
		return
	}
	kind, msg := notify.DriftDetected, fmt.Sprintf("%d drift item(s) left in place", len(st.Drift))
	if corrected {
		kind, msg = notify.DriftCorrected, fmt.Sprintf("%d drift item(s) corrected", len(st.Drift))
	}
	l.notify(providers, kind, revision, commit, []string{st.Release.Name}, msg, st.Drift)
}

// succeeded reports whether the release acted and succeeded in result.
func succeeded(result *reconciler.Result, name string) bool {
	if result == nil {
		return false
	}
	for _, rr := range result.Releases {
		if rr.Name == name {
			return rr.Outcome == reconciler.OutcomeSucceeded
		}
	}
	return false
}

// actedOn are the releases a sync changed.
func actedOn(result *reconciler.Result) []string {
	var out []string
	if result != nil {
		for _, rr := range result.Releases {
			if rr.Outcome == reconciler.OutcomeSucceeded {
				out = append(out, rr.Name)
			}
		}
	}
	return out
}

// failedOf are the releases that failed in a sync.
func failedOf(result *reconciler.Result) []string {
	var out []string
	if result != nil {
		for _, rr := range result.Failed() {
			out = append(out, rr.Name)
		}
	}
	return out
}
