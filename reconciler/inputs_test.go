package reconciler

import (
	"reflect"
	"strings"
	"testing"

	"github.com/digitops/digitops/source/manifest"
)

// TestChangedInputs: the keys that moved, the file each comes from, secrets
// masked (the new value and the rotated old one), numbers compared as Helm
// stores them.
func TestChangedInputs(t *testing.T) {
	env := map[string]any{
		"global":    map[string]any{"domain": "uat.example.org"},
		"egov-user": map[string]any{"replicas": 3, "heap": "-Xmx1g"},
		"zuul":      map[string]any{"replicas": 2},
		"hosts":     []any{"a", "c"},
	}
	secrets := map[string]any{"db": map[string]any{"password": "n3w-s3cret"}}
	tags := map[string]any{"image": map[string]any{"tag": "v2.8.0-b"}}
	spec := manifest.ReleaseSpec{
		Name:         "egov-user",
		Source:       "release-chart.yaml",
		SecretValues: []string{"n3w-s3cret"},
		Values:       manifest.OverlayValues(env, secrets, tags),
		ValueSources: []manifest.ValueSource{{File: "env/uat.yaml", Values: env}, {File: "env/uat-secrets.yaml", Values: secrets}, {File: "release-chart.yaml", Values: tags}},
	}
	// old is what Helm stored: JSON numbers, an old password, a key since
	// removed, an older tag.
	old := map[string]any{
		"global":    map[string]any{"domain": "uat.example.org", "removed": true},
		"egov-user": map[string]any{"replicas": float64(2), "heap": "-Xmx1g"},
		"zuul":      map[string]any{"replicas": float64(2)},
		"hosts":     []any{"a", "b"},
		"db":        map[string]any{"password": "0ld-s3cret"},
		"image":     map[string]any{"tag": "v2.8.0-a"},
	}
	// The domain ends up in a Secret the release renders: masked too.
	inSecret := func(v string) bool { return v == "uat.example.org-new" || v == "s3cret-in-a-block" }
	spec.Values["global"] = map[string]any{"domain": "uat.example.org-new"}
	// A block added whole, holding a value that ends up in a Secret.
	spec.Values["mail"] = map[string]any{"smtp": map[string]any{"password": "s3cret-in-a-block"}}
	got := changedInputs(&Step{Release: spec}, old, inSecret)
	for _, in := range got {
		if strings.Contains(in.Old+in.New, "s3cret") {
			t.Errorf("a secret is shown: %v", in)
		}
	}
	keys := map[string]Input{}
	for _, in := range got {
		keys[in.Key] = in
	}
	want := map[string]Input{
		"db.password":        {File: "env/uat-secrets.yaml", Key: "db.password", Old: keys["db.password"].Old, New: keys["db.password"].New},
		"egov-user.replicas": {File: "env/uat.yaml", Key: "egov-user.replicas", Old: "2", New: "3"},
		"global.removed":     {File: "env/uat.yaml", Key: "global.removed", Old: "true", New: ""},
		"global.domain":      {File: "env/uat.yaml", Key: "global.domain", Old: `"uat.example.org"`, New: keys["global.domain"].New},
		"mail":               {File: "release-chart.yaml", Key: "mail", New: keys["mail"].New},
		"hosts[1]":           {File: "env/uat.yaml", Key: "hosts[1]", Old: `"b"`, New: `"c"`},
		"image.tag":          {File: "release-chart.yaml", Key: "image.tag", Old: `"v2.8.0-a"`, New: `"v2.8.0-b"`},
	}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("changedInputs:\n got %v\nwant %v", keys, want)
	}
	if in := keys["mail"]; !strings.HasPrefix(in.New, "(secret sha256:") {
		t.Errorf("mail = %v, want the block holding a Secret's value masked", in)
	}
	if in := keys["global.domain"]; !strings.HasPrefix(in.New, "(secret sha256:") {
		t.Errorf("global.domain = %v, want the new value, rendered into a Secret, masked", in)
	}
	if in := keys["db.password"]; !strings.Contains(in.Old, "secret sha256:") || !strings.Contains(in.New, "secret sha256:") {
		t.Errorf("db.password = %v, want both sides masked", in)
	}
	if s := keys["egov-user.replicas"].String(); s != "env/uat.yaml: egov-user.replicas 2 → 3" {
		t.Errorf("String() = %q", s)
	}
}
