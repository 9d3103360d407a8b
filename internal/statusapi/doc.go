// Package statusapi holds the JSON shapes of the daemon's status API
// (GET /api/v1/status), shared by the daemon that serves them and the CLI
// that reads them. Field names are a contract: add fields, never rename.
package statusapi
