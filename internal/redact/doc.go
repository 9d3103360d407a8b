// Package redact is the one place digitops hides secret values: the values
// of an environment's secrets file (and of SOPS-encrypted values files),
// their base64 forms, and a rotated secret's previous value.
//
// A masked value becomes "(secret sha256:xxxxxxxx)", a short hash, so that a
// change is still visible in a diff and the value is not. Masking is done
// where text is produced for people: a plan step's reason when the plan
// decides it, a drift item when it is found, a release's error when its
// action fails, a diff when it is rendered; the status API, the CLI's
// output, logs, events and metrics then print what they are given.
package redact
