package kube

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"testing"
)

func TestStorage_decodeManifest(t *testing.T) {
	release := `{"name":"egov-user","chart":{"files":[{"name":"big","data":"AAAA"}]},"config":{"env":"dev"},"manifest":"---\nkind: ConfigMap\n","version":3}`
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, _ = w.Write([]byte(release))
	_ = w.Close()
	for _, tc := range []struct {
		name string
		// data is data["release"] of the storage Secret.
		data string
		// want is the manifest; wantErr says decoding fails.
		want    string
		wantErr bool
	}{
		{name: "gzipped, as Helm writes it", data: base64.StdEncoding.EncodeToString(gz.Bytes()), want: "---\nkind: ConfigMap\n"},
		{name: "plain JSON, as Helm wrote before compressing", data: base64.StdEncoding.EncodeToString([]byte(release)), want: "---\nkind: ConfigMap\n"},
		{name: "no manifest", data: base64.StdEncoding.EncodeToString([]byte(`{"name":"x"}`)), want: ""},
		{name: "not base64", data: "!!!", wantErr: true},
		{name: "truncated gzip", data: base64.StdEncoding.EncodeToString(gz.Bytes()[:20]), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeManifest([]byte(tc.data))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("manifest = %q, want %q", got, tc.want)
			}
		})
	}
}
