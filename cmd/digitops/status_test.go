package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// TestStatusFromServer: status --server prints the daemon's status
// document (daemon/testdata/status.json, what the daemon serves) as the
// golden text, and with -o json as it is, byte for byte: reading it into
// statusapi's types loses nothing.
func TestStatusFromServer(t *testing.T) {
	doc, err := os.ReadFile("../../daemon/testdata/status.json")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/status" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	}))
	defer srv.Close()
	var text, js strings.Builder
	if err := statusFromServer(t.Context(), &text, "text", srv.URL+"/"); err != nil {
		t.Fatal(err)
	}
	assertGolden(t, "status-server.txt", text.String())
	if err := statusFromServer(t.Context(), &js, "json", srv.URL); err != nil {
		t.Fatal(err)
	}
	if js.String() != string(doc) {
		t.Errorf("status --server -o json differs from the daemon's document:\n%s", js.String())
	}
}
