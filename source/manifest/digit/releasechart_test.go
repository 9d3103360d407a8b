package digit_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/digitops/digitops/source/manifest"
	"github.com/digitops/digitops/source/manifest/digit"
)

func TestParseService(t *testing.T) {
	tests := []struct {
		ref  string // the services: entry
		name string // the chart or instance it maps to; empty when it fails
		tag  string // the tag
		err  string // a part of the error, when it fails
	}{
		{ref: "egovio/egov-user:v2.9.2-4a60f20", name: "egov-user", tag: "v2.9.2-4a60f20"},
		{ref: "egovio/pgr-services-db:core-2.9-3", name: "pgr-services-db", tag: "core-2.9-3"},
		{ref: "registry.example.org:5000/team/app/portal:1.0", name: "portal", tag: "1.0"},
		{ref: "redis", name: "redis"},
		{ref: "  egovio/citizen:v1  ", name: "citizen", tag: "v1"},
		{ref: "egovio/Upper:1", err: `bad image reference "egovio/Upper:1"`},
		{ref: "egovio/app:bad tag", err: "bad image reference"},
		{ref: "egovio/app@sha256:" + strings.Repeat("0", 64), err: "digests are not supported"},
		{ref: ":1.0", err: "bad image reference"},
	}
	for _, tt := range tests {
		s, err := digit.ParseService(tt.ref)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseService(%q) err = %v, want %q", tt.ref, err, tt.err)
			}
			continue
		}
		if err != nil || s.Name != tt.name || s.Tag != tt.tag {
			t.Errorf("ParseService(%q) = %+v, %v; want name %q tag %q", tt.ref, s, err, tt.name, tt.tag)
		}
	}
}

func TestOrderModules(t *testing.T) {
	const chart = `modules:
  - name: frontend
    dependencies: [business]
    services: [a/fe:1]
  - name: backbone
    services: [kafka]
  - name: business
    dependencies: [core]
    services: [a/biz:1]
  - name: core
    dependencies: [backbone]
    services: [a/core:1]
  - name: m_x
    dependencies: [core]
    services: [a/x:1]
`
	rc, err := digit.ParseReleaseChart([]byte(chart), "rc.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		selected []string // modules asked for
		order    []string // modules deployed, in order
		unknown  []string // names that are no module
	}{
		// Nothing selected: what the deployer's installer offers (the m_*
		// modules) and what they depend on.
		{selected: nil, order: []string{"backbone", "core", "m_x"}},
		// A true topological order (frontend is declared first but comes
		// after everything it depends on).
		{selected: []string{"frontend", "m_x"}, order: []string{"backbone", "core", "business", "frontend", "m_x"}},
		{selected: []string{"m_x"}, order: []string{"backbone", "core", "m_x"}},
		{selected: []string{"m_x", "nope"}, order: []string{"backbone", "core", "m_x"}, unknown: []string{"nope"}},
		{selected: []string{"backbone"}, order: []string{"backbone"}},
	}
	for _, tt := range tests {
		order, unknown, cycles := digit.OrderModules(rc, tt.selected)
		if len(cycles) > 0 {
			t.Fatal(cycles)
		}
		var names []string
		for _, m := range order {
			names = append(names, m.Name)
		}
		if !reflect.DeepEqual(names, tt.order) || !reflect.DeepEqual(unknown, tt.unknown) {
			t.Errorf("OrderModules(%v) = %v, %v; want %v, %v", tt.selected, names, unknown, tt.order, tt.unknown)
		}
	}
}

// FuzzParseReleaseChart: the parser never panics, and what it accepts is
// consistent: named modules, services that parse again to the same, known
// dependencies, and an order (or a cycle error) for every selection.
func FuzzParseReleaseChart(f *testing.F) {
	f.Add([]byte("modules:\n  - name: a\n    services: [x/y:1]\n"))
	f.Add([]byte("modules:\n  - name: a\n    dependencies: [a]\n"))
	f.Add([]byte("modules: [{name: a, dependencies: [b]}, {name: b, dependencies: [a]}]\n"))
	f.Add([]byte("version: 1\nmodules:\n  - name: a\n    services: [\"x/Y:1\"]\n"))
	f.Add([]byte("modules: &m [*m]\n"))
	f.Add([]byte("- a\n"))
	f.Add([]byte(""))
	for _, p := range []string{
		filepath.Join("..", "..", "..", "examples", "digit", exRelease),
		filepath.Join("..", "..", "..", "..", "shared", "digit-devops-sample", sampleReleaseChart),
	} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rc, err := digit.ParseReleaseChart(data, "rc.yaml")
		if err != nil {
			var me *manifest.Error
			if !errors.As(err, &me) || me.File != "rc.yaml" {
				t.Fatalf("error without the file: %v", err)
			}
			return
		}
		names := map[string]bool{}
		for _, m := range rc.Modules {
			if m.Name == "" || names[m.Name] {
				t.Fatalf("module name %q empty or twice", m.Name)
			}
			names[m.Name] = true
			for _, s := range m.Services {
				again, err := digit.ParseService(s.Ref)
				if err != nil || again.Name != s.Name || again.Tag != s.Tag || s.Name == "" {
					t.Fatalf("service %+v does not parse again: %+v, %v", s, again, err)
				}
			}
		}
		known := 0
		for _, m := range rc.Modules {
			for _, d := range m.Dependencies {
				if names[d.Name] {
					known++
				}
			}
		}
		unknownDeps := 0
		for _, m := range rc.Modules {
			unknownDeps += len(m.Dependencies)
		}
		if unknownDeps -= known; unknownDeps != len(rc.Warnings) {
			t.Fatalf("%d unknown dependencies, %d warnings", unknownDeps, len(rc.Warnings))
		}
		order, unknown, cycles := digit.OrderModules(rc, nil)
		for _, w := range cycles {
			if !strings.Contains(w.Msg, "module dependency cycle: ") || w.File != "rc.yaml" {
				t.Fatalf("OrderModules: %v", w)
			}
		}
		if len(cycles) > 0 {
			return
		}
		if len(unknown) != 0 || len(order) != len(rc.Modules) {
			t.Fatalf("order has %d modules of %d (unknown %v)", len(order), len(rc.Modules), unknown)
		}
		pos := map[string]int{}
		for i, m := range order {
			pos[m.Name] = i
		}
		for _, m := range order {
			for _, d := range m.Dependencies {
				if p, ok := pos[d.Name]; ok && p >= pos[m.Name] {
					t.Fatalf("%s comes before its dependency %s", m.Name, d.Name)
				}
			}
		}
	})
}

// TestDeployerOrder: the Go deployer's installer pushes each selected
// module, then its dependencies, to the front of its list.
func TestDeployerOrder(t *testing.T) {
	rc, err := digit.ParseReleaseChart([]byte(`modules:
  - name: backbone
  - name: core
    dependencies: [backbone]
  - name: m_a
    dependencies: [core]
  - name: m_b
    dependencies: [core, nope]
`), "rc.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		roots, want []string
	}{
		{[]string{"m_a", "m_b"}, []string{"m_b", "backbone", "core", "m_a"}},
		{[]string{"m_b", "m_a"}, []string{"m_a", "backbone", "core", "m_b"}},
		{[]string{"core"}, []string{"backbone", "core"}},
	} {
		if got := rc.DeployerOrder(tt.roots); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("DeployerOrder(%v) = %v, want %v", tt.roots, got, tt.want)
		}
	}
}
