package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Provider sends events somewhere.
type Provider interface {
	// Name names the provider in metrics and logs (slack, webhook, github,
	// gitlab): never a URL or a secret.
	Name() string
	// Wants reports whether the provider sends events of this kind.
	Wants(k Kind) bool
	// Send delivers one event. An error is retried unless the receiver
	// refused the request (a 4xx other than 408 and 429); it never holds a
	// secret.
	Send(ctx context.Context, e Event) error
}

// commitStatuser is a provider that sets one status per environment and
// commit: the queue sends it again only when the status changes.
type commitStatuser interface{ commitStatus() }

func (GitHub) commitStatus() {}
func (GitLab) commitStatus() {}

// statusError is a response other than 2xx.
type statusError struct {
	host   string
	status string
	code   int
}

func (e *statusError) Error() string { return fmt.Sprintf("POST to %s: %s", e.host, e.status) }

// retryable reports whether a failed send may succeed if tried again: not
// when the receiver refused it (bad token, unknown repository, a redirect
// not followed), except for 408 and 429.
func retryable(err error) bool {
	var se *statusError
	if !errors.As(err, &se) {
		return true
	}
	return se.code >= 500 || se.code == http.StatusRequestTimeout || se.code == http.StatusTooManyRequests
}

// noRedirects is the client of every provider that sets none: a redirect is
// never followed, so a token is only ever sent to the host configured.
func noRedirects() *http.Client {
	return &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// kinds is a set of event kinds; empty means every kind.
type kinds []Kind

func (ks kinds) has(k Kind) bool {
	if len(ks) == 0 {
		return true
	}
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// Webhook POSTs the event as JSON, signed with HMAC-SHA256 of the body
// (X-Signature-256: sha256=<hex>) when Secret is set.
type Webhook struct {
	URL    string
	Secret string
	Events []Kind
	Client *http.Client
}

func (Webhook) Name() string { return "webhook" }

func (w Webhook) Wants(k Kind) bool { return k != SyncStarted && kinds(w.Events).has(k) }

func (w Webhook) Send(ctx context.Context, e Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	h := http.Header{"Content-Type": {"application/json"}, "X-Digitops-Event": {string(e.Kind)}}
	if w.Secret != "" {
		mac := hmac.New(sha256.New, []byte(w.Secret))
		mac.Write(body)
		h.Set("X-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
	return post(ctx, w.Client, w.URL, h, body)
}

// Slack posts the event's text to an incoming webhook (the URL is the
// secret).
type Slack struct {
	URL    string
	Events []Kind
	Client *http.Client
}

func (Slack) Name() string { return "slack" }

func (s Slack) Wants(k Kind) bool { return k != SyncStarted && kinds(s.Events).has(k) }

func (s Slack) Send(ctx context.Context, e Event) error {
	body, _ := json.Marshal(map[string]string{"text": e.text()})
	return post(ctx, s.Client, s.URL, http.Header{"Content-Type": {"application/json"}}, body)
}

// commitState maps a sync event to a commit status state.
func commitState(k Kind) (state string, ok bool) {
	switch k {
	case SyncStarted:
		return "pending", true
	case SyncSucceeded:
		return "success", true
	case SyncFailed:
		return "failure", true
	}
	return "", false
}

// GitHub sets the commit status digitops/<environment> on the synced
// commit (POST /repos/{owner}/{repo}/statuses/{sha}).
type GitHub struct {
	// APIURL is https://api.github.com, or a GitHub Enterprise API.
	APIURL string
	// Repository is owner/name.
	Repository string
	Token      string
	Client     *http.Client
}

func (GitHub) Name() string { return "github" }

func (GitHub) Wants(k Kind) bool { _, ok := commitState(k); return ok }

func (g GitHub) Send(ctx context.Context, e Event) error {
	state, _ := commitState(e.Kind)
	body, _ := json.Marshal(map[string]string{
		"state": state, "context": "digitops/" + e.Environment, "target_url": e.URL, "description": truncate(e.Message, 140),
	})
	u := strings.TrimSuffix(g.APIURL, "/") + "/repos/" + g.Repository + "/statuses/" + e.Commit
	return post(ctx, g.Client, u, http.Header{
		"Content-Type": {"application/json"}, "Accept": {"application/vnd.github+json"}, "Authorization": {"Bearer " + g.Token},
	}, body)
}

// GitLab sets the commit status digitops/<environment> on the synced
// commit (POST /api/v4/projects/{id}/statuses/{sha}).
type GitLab struct {
	// APIURL is https://gitlab.com, or a self-hosted GitLab.
	APIURL string
	// Project is the project's path (group/name) or numeric id.
	Project string
	Token   string
	Client  *http.Client
}

func (GitLab) Name() string { return "gitlab" }

func (GitLab) Wants(k Kind) bool { _, ok := commitState(k); return ok }

func (g GitLab) Send(ctx context.Context, e Event) error {
	state, _ := commitState(e.Kind)
	if state == "pending" {
		state = "running"
	} else if state == "failure" {
		state = "failed"
	}
	q := url.Values{"state": {state}, "name": {"digitops/" + e.Environment}, "target_url": {e.URL}, "description": {truncate(e.Message, 255)}}
	u := strings.TrimSuffix(g.APIURL, "/") + "/api/v4/projects/" + url.PathEscape(g.Project) + "/statuses/" + e.Commit + "?" + q.Encode()
	return post(ctx, g.Client, u, http.Header{"PRIVATE-TOKEN": {g.Token}}, nil)
}

// post sends body and wants a 2xx. The error names the host and the
// status, never the URL's path or query (Slack's secret) nor a header.
func post(ctx context.Context, c *http.Client, rawURL string, h http.Header, body []byte) error {
	if c == nil {
		c = noRedirects()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("invalid notification URL")
	}
	req.Header = h
	host := req.URL.Host
	resp, err := c.Do(req)
	if err != nil {
		// url.Error repeats the URL: keep its cause only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("POST to %s: %v", host, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return &statusError{host: host, status: resp.Status, code: resp.StatusCode}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
