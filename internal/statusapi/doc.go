// Package statusapi holds the JSON shapes of the daemon's status API
// (GET /api/v1/status), shared by the daemon that serves them and the CLI
// that reads them. Field names are a contract: add fields, never rename.
//
// It imports no digitops package (internal/archtest keeps it so): its types
// are its own, with the JSON encoding of the reconciler's, metrics' and
// the loader's, and the daemon converts those when it builds a status.
package statusapi
