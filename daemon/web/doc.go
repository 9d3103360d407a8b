// Package web is digitops serve's HTTP side: the JSON API, the console,
// the probes, /metrics and the webhook receivers.
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
// # The console
//
// Three server-rendered views ([html/template], every value escaped where
// it lands): the overview (GET /), an environment and a release. Each is
// built from the Backend methods the JSON API serves (Status,
// EnvironmentDetail, ReleaseDetail, History) by a pure function of them
// and a clock (views.go), so that a view shows what the API answers, and
// says so when a detail cannot be had. The views are read-only without
// JavaScript (a filter by query parameters, a meta refresh); the script
// (console/console.js, no build step) updates them live, filters without
// a request and carries the operator's actions, with the API token kept
// in sessionStorage and sent as "Authorization: Bearer". It inserts text
// only; the Content-Security-Policy allows no other script.
//
// GET /api/v1/events streams the status as server-sent events: one
// goroutine per handler reads Backend.Status every second while a client
// listens and hands every client the status when it changed (at most
// 100 clients; a comment every 15 s keeps idle streams open). The streams
// end when [NewServer]'s server shuts down.
//
// # Changes need a token
//
// A request that changes something (suspend, resume, retry, a rollout
// action: what the console's buttons send) needs Options.APIToken as
// "Authorization: Bearer <token>"; without a configured token the API is
// read-only.
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
