// Package httpurl is the one check of the http(s) URLs digitops.yaml and
// the daemon's secrets directory name (notification webhooks, API bases,
// Prometheus gates): absolute, http or https, with a host and without
// credentials, which belong in a secret and would be printed with the URL.
package httpurl
