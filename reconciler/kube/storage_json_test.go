package kube

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
)

// helmRelease is a release as Helm stores it, whose values and chart hold
// what could mislead a scanner: a values key named manifest, strings with
// quotes, backslashes and brackets, nested lists.
func helmRelease(t testing.TB, manifest string) []byte {
	t.Helper()
	rel := &release.Release{
		Name: "egov-user",
		Info: &release.Info{Status: release.StatusDeployed, Notes: `notes with "quotes" and \ and {`},
		Chart: &chart.Chart{
			Metadata: &chart.Metadata{Name: "egov-user", Version: "1.0.0", APIVersion: "v2"},
			Values:   map[string]any{"manifest": "not this one", "list": []any{1.5, -2e3, true, false, nil, []any{}, map[string]any{}}},
			Files:    []*chart.File{{Name: "big", Data: []byte(strings.Repeat(`}]"\x00`, 2000))}},
		},
		Config:    map[string]any{"manifest": map[string]any{"manifest": "[{\"}"}, "egov-user": map[string]any{"replicas": 2, "note": `a "}" b \"`}},
		Manifest:  manifest,
		Hooks:     []*release.Hook{{Name: "migrate", Manifest: "kind: Job\n"}},
		Version:   3,
		Namespace: "egov",
	}
	js, err := json.Marshal(rel)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func TestStorage_releaseField(t *testing.T) {
	manifest := "---\n# Source: egov-user/templates/cm.yaml\nkind: ConfigMap\ndata:\n  html: \"<a href=\\\"x\\\">&amp;</a>\"\n  uni: \"é \u2028 \t\"\n"
	for _, tc := range []struct {
		name string
		// in is the JSON scanned.
		in string
		// want is the manifest; found says it is there; wantErr says the
		// scan fails.
		want    string
		found   bool
		wantErr bool
	}{
		{name: "Helm's encoding, values with a manifest key", in: string(helmRelease(t, manifest)), want: manifest, found: true},
		{name: "Helm's encoding, empty manifest (omitted)", in: string(helmRelease(t, "")), want: "", found: false},
		{name: "whitespace between tokens", in: " {\n \"a\" : [ 1 , {\"b\": null} ] ,\t\"manifest\" :\r\n \"x\" } ", want: "x", found: true},
		{name: "escaped key", in: `{"manif\u0065st":"y"}`, want: "y", found: true},
		{name: "escapes in the value", in: `{"manifest":"a\"b\\c\u003c\ud83d\ude00"}`, want: "a\"b\\c<\U0001F600", found: true},
		{name: "no manifest", in: `{"name":"x","config":{"manifest":"no"}}`, found: false},
		{name: "null manifest", in: `{"manifest":null}`, found: false},
		{name: "empty object", in: `{}`, found: false},
		{name: "not an object", in: `["manifest","x"]`, wantErr: true},
		{name: "manifest not a string", in: `{"manifest":{"a":1}}`, wantErr: true},
		{name: "truncated inside skipped values", in: `{"config":{"a":"b`, wantErr: true},
		{name: "truncated inside the manifest", in: `{"manifest":"abc`, wantErr: true},
		{name: "empty input", in: ``, wantErr: true},
		{name: "bad literal", in: `{"a":nul,"manifest":"x"}`, wantErr: true},
		{name: "missing colon", in: `{"a" 1}`, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One byte per read: every token crosses a buffer boundary.
			for _, r := range []*strings.Reader{strings.NewReader(tc.in), nil} {
				var got string
				var found bool
				var err error
				if r != nil {
					got, found, err = releaseField(r, "manifest")
				} else {
					got, found, err = releaseField(iotest.OneByteReader(strings.NewReader(tc.in)), "manifest")
				}
				if (err != nil) != tc.wantErr {
					t.Fatalf("err = %v, want error %v", err, tc.wantErr)
				}
				if got != tc.want || found != tc.found {
					t.Errorf("= %q, %v; want %q, %v", got, found, tc.want, tc.found)
				}
			}
		})
	}
}

// TestStorage_releaseFieldTruncated cuts Helm's encoding at every byte
// before the manifest ends: the scan must fail, never return a manifest.
func TestStorage_releaseFieldTruncated(t *testing.T) {
	js := string(helmRelease(t, "kind: ConfigMap\n"))
	end := strings.Index(js, `"manifest":"kind`) + len(`"manifest":"kind: ConfigMap\n"`)
	for n := 0; n < end; n += 13 {
		if m, found, err := releaseField(strings.NewReader(js[:n]), "manifest"); err == nil {
			t.Fatalf("prefix of %d bytes: = %q, %v, want an error", n, m, found)
		}
	}
}

// FuzzStorage_releaseField checks the scanner against encoding/json on any
// object encoding/json accepts.
func FuzzStorage_releaseField(f *testing.F) {
	f.Add(string(helmRelease(f, "kind: ConfigMap\n")))
	f.Add(`{"a":[1,{"manifest":"n"}],"manifest":"m\u0041"}`)
	f.Fuzz(func(t *testing.T, in string) {
		var obj map[string]json.RawMessage
		if !utf8.ValidString(in) || json.Unmarshal([]byte(in), &obj) != nil {
			return // Helm's JSON is valid UTF-8
		}
		if strings.Count(in, "manifest") > 1 || strings.Contains(in, `\u`) {
			return // duplicate keys or escaped ones: first versus last wins
		}
		var want *string
		if raw, ok := obj["manifest"]; ok && json.Unmarshal(raw, &want) != nil {
			return // not a string: an error, tested apart
		}
		got, found, err := releaseField(strings.NewReader(in), "manifest")
		if err != nil {
			t.Fatalf("releaseField(%q): %v", in, err)
		}
		if found != (want != nil) || found && got != *want {
			t.Fatalf("releaseField(%q) = %q, %v; encoding/json says %v", in, got, found, want)
		}
	})
}
