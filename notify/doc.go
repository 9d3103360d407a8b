// Package notify tells people and systems what digitops did: a sync that
// succeeded or failed, drift found or corrected, and, for GitHub and
// GitLab, the commit status of each environment's sync of a revision
// (context digitops/<environment>: pending when the sync starts, success or
// failure when it ends, linked to the status page).
//
// Providers: a generic webhook (JSON, signed with HMAC-SHA256 in
// X-Signature-256 like digitops's own receivers), Slack (incoming webhook),
// GitHub and GitLab commit statuses. Their secrets (Slack's webhook URL,
// the webhook's HMAC key, the API tokens) never come from the repository:
// digitops.yaml names them (secretRef) and the daemon reads them from its
// own directory (serve --notify-secrets-dir), and so does the API base a
// token is sent to (the daemon reads it beside the token; the repository
// cannot set it): a pull request cannot point a token at a server of its
// choosing. Redirects are never followed. No secret appears in an error, a
// log line or a metric.
//
// Sending never blocks a sync: events go into a bounded queue (full: the
// event is dropped and counted), one worker sends them with retries and
// exponential backoff (a refusal, a 4xx other than 408 and 429, is not
// retried). A chat or webhook event is sent once per provider,
// environment, kind, revision and releases (a sync failing every minute on
// the same revision notifies once); a commit status is sent again only when
// its state changes.
package notify
