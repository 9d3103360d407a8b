package diff_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/digitops/digitops/internal/diff"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func read(t *testing.T, name string) string {
	t.Helper()
	if name == "" {
		return ""
	}
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestManifests_golden(t *testing.T) {
	tests := []struct {
		name string
		// old and new are testdata manifests; empty means none.
		old, new string
		// secrets are the planted secret values that must not appear.
		secrets []string
		// color asks for ANSI colours.
		color bool
	}{
		{name: "upgrade", old: "upgrade.old.yaml", new: "upgrade.new.yaml", secrets: []string{"s3cr3t-db-password", "n3w-db-password"}},
		{name: "upgrade-color", old: "upgrade.old.yaml", new: "upgrade.new.yaml", secrets: []string{"s3cr3t-db-password", "n3w-db-password"}, color: true},
		{name: "secret", old: "secret.old.yaml", new: "secret.new.yaml", secrets: []string{"old-password", "new-password"}},
		{name: "install", new: "secret.new.yaml", secrets: []string{"new-password"}},
		{name: "uninstall", old: "secret.old.yaml", secrets: []string{"old-password"}},
		{name: "unchanged", old: "secret.old.yaml", new: "secret.old.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := diff.Manifests(read(t, tt.old), read(t, tt.new), diff.Options{Secrets: tt.secrets})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := diff.Write(&buf, objs, diff.Style{Color: tt.color, Indent: "  "}); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			for _, s := range tt.secrets {
				if strings.Contains(out, s) {
					t.Errorf("secret %q appears in the diff", s)
				}
			}
			// base64 of the Secret values must not appear either.
			for _, s := range []string{"b2xkLXBhc3N3b3Jk", "bmV3LXBhc3N3b3Jk"} {
				if strings.Contains(out, s) {
					t.Errorf("encoded secret %q appears in the diff", s)
				}
			}
			golden(t, tt.name+".golden", out)
		})
	}
}

func TestManifests_secretChangeVisible(t *testing.T) {
	objs, err := diff.Manifests(read(t, "secret.old.yaml"), read(t, "secret.new.yaml"), diff.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].Change != diff.Changed {
		t.Fatalf("got %+v, want one changed Secret", objs)
	}
	var ins, del int
	for _, l := range objs[0].Lines {
		switch l.Op {
		case diff.Insert:
			ins++
			if !strings.Contains(l.Text, "(secret sha256:") {
				t.Errorf("inserted line %q is not masked", l.Text)
			}
		case diff.Delete:
			del++
		}
	}
	if ins != 1 || del != 1 {
		t.Errorf("got %d inserted and %d deleted lines, want 1 and 1 (only the password changed)", ins, del)
	}
}

func TestManifests_badYAML(t *testing.T) {
	if _, err := diff.Manifests("a: [", "", diff.Options{}); err == nil {
		t.Fatal("want an error for invalid YAML")
	}
}
