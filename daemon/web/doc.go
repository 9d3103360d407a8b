// Package web is digitops serve's HTTP side: the JSON API, the status
// page, the probes, /metrics and the webhook receivers.
//
// # Shape
//
// [NewHandler] serves a [Backend], the few things the handlers need of the
// daemon: a status snapshot, readiness, an environment's sync history,
// suspend, resume and retry, an operator's action on a rollout, and a
// fetch of the sources a push moved.
// The daemon implements it; this package never imports the daemon, so the
// handlers are tested with any Backend and the daemon's loops know nothing
// of HTTP. A Backend's errors say which answer they get: [NotFound] (404),
// [Conflict] (409), anything else 500 (409 for a rollout action, which the
// rollout refused).
//
// # Changes need a token
//
// A request that changes something (suspend, resume, retry, a rollout
// action) needs Options.APIToken as "Authorization: Bearer <token>";
// without a configured token the API is read-only.
//
// # Webhooks
//
// POST /hooks/github (X-Hub-Signature-256), /hooks/gitlab (X-Gitlab-Token)
// and /hooks/generic (X-Signature-256, see [Sign]) answer 404 until their
// secret is set. What the headers decide is decided before the body is
// read; the body is at most [MaxWebhookBody]. A delivery id, and the move
// a signed push reports (reference, from and to which commit), are
// remembered for ten minutes, so a replayed delivery triggers nothing.
// A push becomes a [Push]; [Push.Moved] says whether it moved a source's
// repository and reference, and the Backend's Pushed wakes those sources.
//
// # Limits
//
// [NewServer] and [LimitListener] bound what a client can hold: slow
// headers or bodies and idle connections are cut ([DefaultLimits]), and
// at most Limits.MaxConns connections are open at once.
package web
