package redact

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
)

func TestSecrets_base64(t *testing.T) {
	const pw = "s3cret-pass"
	in := "a: " + pw + "\nb: " + base64.StdEncoding.EncodeToString([]byte(pw)) + "\nc: " + base64.RawStdEncoding.EncodeToString([]byte(pw)) + "\nd: abc\n"
	got := Secrets(in, []string{pw, "abc"})
	if strings.Contains(got, pw) || strings.Contains(got, base64.StdEncoding.EncodeToString([]byte(pw))) || strings.Contains(got, base64.RawStdEncoding.EncodeToString([]byte(pw))) {
		t.Errorf("Secrets left a form of the secret:\n%s", got)
	}
	if strings.Count(got, Value(pw)) != 3 || !strings.Contains(got, "d: abc") {
		t.Errorf("Secrets = %q, want three masks and short values left alone", got)
	}
}

func TestPreviousValues(t *testing.T) {
	secrets := []string{"new-pass", "same-token"}
	desired := map[string]any{
		"db":     map[string]any{"password": "new-pass", "user": "egov"},
		"tokens": []any{"same-token"},
		"plain":  "x",
	}
	deployed := map[string]any{
		"db":     map[string]any{"password": "old-pass", "user": "egov"},
		"tokens": []any{"same-token"},
		"plain":  "old-plain",
	}
	if got, want := PreviousValues(desired, deployed, secrets), []string{"old-pass"}; !reflect.DeepEqual(got, want) {
		t.Errorf("PreviousValues = %v, want %v (only the old value of a secret path)", got, want)
	}
	if got := PreviousValues(desired, nil, secrets); got != nil {
		t.Errorf("nothing deployed: %v", got)
	}
}

// TestSecrets_nested: a secret that begins another, and their base64
// encodings, leave no tail of the longer one behind.
func TestSecrets_nested(t *testing.T) {
	user, pass := "sms-demo", "sms-demo-password"
	in := "u: " + base64.StdEncoding.EncodeToString([]byte(user)) + "\np: " + base64.StdEncoding.EncodeToString([]byte(pass)) + "\nq: " + pass + "\n"
	got := Secrets(in, []string{user, pass})
	want := "u: " + Value(user) + "\np: " + Value(pass) + "\nq: " + Value(pass) + "\n"
	if got != want {
		t.Errorf("Secrets =\n%s\nwant\n%s", got, want)
	}
}
