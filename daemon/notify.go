package daemon

import (
	"fmt"

	"github.com/digitops/digitops/notify"
	"github.com/digitops/digitops/reconciler"
	"github.com/digitops/digitops/reconciler/drift"
	"github.com/digitops/digitops/source/manifest"
)

// notifiers builds the providers of an environment's notify entries
// (notify.FromConfig, secrets from the daemon's NotifySecretsDir). An entry
// left out is logged (once per sync), never fatal.
func (l *envLoop) notifiers(env *manifest.Environment) []notify.Provider {
	providers, skipped := notify.FromConfig(env.Notify, l.d.opts.NotifySecretsDir)
	for _, s := range skipped {
		l.log.Warn("notification left out", "index", s.Index, "provider", s.Provider, "error", s.Err)
	}
	return providers
}

// lastProviders returns the providers of the environment's last load.
func (l *envLoop) lastProviders() []notify.Provider {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.providers
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
