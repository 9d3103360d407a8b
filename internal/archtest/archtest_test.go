package archtest

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/digitops/digitops/"

// rules are the import directions of docs/architecture.md's package
// section: a package under from never depends, directly or through another
// package, on one under any of never. A path names a package and the
// packages below it, except that a parent of from ("reconciler" for
// "reconciler/drift") names the parent package alone.
var rules = []struct {
	// from is the importing package (and those below it).
	from string
	// never lists the packages it must not depend on.
	never []string
	// alone: it depends on no digitops package at all.
	alone bool
}{
	{from: "source", never: []string{"reconciler", "daemon", "cmd", "rollout", "notify", "metrics", "policy", "internal/statusapi", "internal/diff"}},
	{from: "policy", never: []string{"reconciler", "daemon", "cmd"}},
	{from: "reconciler", never: []string{"daemon", "cmd", "rollout", "notify", "metrics", "internal/statusapi"}},
	{from: "reconciler/drift", never: []string{"reconciler", "reconciler/takeover"}},
	{from: "reconciler/kube", never: []string{"reconciler", "reconciler/drift", "reconciler/takeover"}},
	// reconciler/takeover decides and reads; the reconciler renders and
	// fills the plan's steps with what it decided.
	{from: "reconciler/takeover", never: []string{"reconciler"}},
	{from: "internal/redact", never: []string{"reconciler", "daemon", "cmd", "source", "internal/diff"}},
	{from: "internal/diff", never: []string{"reconciler", "daemon", "cmd", "source"}},
	// The status API's JSON types are its own; the daemon converts the
	// reconciler's, the metrics' and the loader's at the HTTP edge.
	{from: "internal/statusapi", alone: true},
	{from: "rollout", never: []string{"reconciler", "daemon", "cmd", "notify", "metrics"}},
	{from: "notify", never: []string{"reconciler", "daemon", "cmd", "rollout", "metrics"}},
	{from: "metrics", never: []string{"reconciler", "daemon", "cmd", "source"}},
	// daemon/web and daemon/rollouts declare what they need of the daemon
	// (web.Backend; rollouts.Source, rollouts.Environments).
	{from: "daemon/web", never: []string{"daemon"}},
	{from: "daemon/rollouts", never: []string{"daemon"}},
	// daemon/shard knows Leases and names, nothing of syncs.
	{from: "daemon/shard", never: []string{"daemon", "reconciler", "source", "daemon/web", "daemon/rollouts", "metrics"}},
	// daemon/history stores plain values: it knows neither the daemon nor
	// the reconciler's types.
	{from: "daemon/history", never: []string{"daemon", "reconciler", "metrics", "internal/statusapi", "cmd"}},
}

// under reports whether pkg is path or, when sub is set, a package below
// it.
func under(pkg, path string, sub bool) bool {
	if pkg == path {
		return true
	}
	return sub && strings.HasPrefix(pkg, path+"/")
}

// goDeps lists every package of the module (its path without the module
// prefix) with all its dependencies (full import paths).
func goDeps(t *testing.T) map[string][]string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command on PATH: %v", err)
	}
	cmd := exec.Command(goBin, "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, module+"...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	deps := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkg := strings.TrimPrefix(fields[0], module)
		deps[pkg] = fields[1:]
	}
	return deps
}

// TestDependencies runs the checks on the module's dependencies, from one
// go list.
func TestDependencies(t *testing.T) {
	deps := goDeps(t)
	t.Run("ImportDirection", func(t *testing.T) { importDirection(t, deps) })
	t.Run("SOPSLibraryInTheProgramOnly", func(t *testing.T) { sopsLibraryInTheProgramOnly(t, deps) })
}

// sopsLibraryInTheProgramOnly: the sops library (and with it the SDKs of
// every cloud KMS) is linked by the program alone, through sopslib; the
// packages that load environments link none of it (test imports are not
// checked: source/manifest/sops's tests decrypt with it).
func sopsLibraryInTheProgramOnly(t *testing.T, all map[string][]string) {
	const lib, sopslib = "github.com/getsops/sops/v3", module + "source/manifest/sops/sopslib"
	allowed := map[string]bool{"cmd/digitops": true, strings.TrimPrefix(sopslib, module): true}
	users := 0
	for pkg, ds := range all {
		for _, d := range ds {
			if (d == lib || strings.HasPrefix(d, lib+"/") || d == sopslib) && !allowed[pkg] {
				t.Errorf("%s depends on %s: only cmd/digitops links the sops library (through %s)", pkg, d, sopslib)
				break
			}
			if d == sopslib {
				users++
			}
		}
	}
	if users == 0 {
		t.Errorf("no package depends on %s: the rule checks nothing", sopslib)
	}
}

// importDirection: no package depends on one its rule forbids.
func importDirection(t *testing.T, all map[string][]string) {
	deps := map[string][]string{}
	for pkg, ds := range all {
		deps[pkg] = nil
		for _, d := range ds {
			if rel, ok := strings.CutPrefix(d, module); ok {
				deps[pkg] = append(deps[pkg], rel)
			}
		}
	}
	for _, r := range rules {
		found := false
		for pkg := range deps {
			found = found || under(pkg, r.from, true)
		}
		if !found {
			t.Errorf("rule for %s: no such package", r.from)
		}
	}
	for pkg, ds := range deps {
		for _, r := range rules {
			if !under(pkg, r.from, true) {
				continue
			}
			if r.alone && len(ds) > 0 {
				t.Errorf("%s depends on %s: docs/architecture.md has %s import no digitops package", pkg, strings.Join(ds, ", "), r.from)
			}
			for _, d := range ds {
				for _, n := range r.never {
					sub := !strings.HasPrefix(r.from, n+"/")
					if under(d, n, sub) {
						t.Errorf("%s depends on %s: docs/architecture.md has %s never import %s", pkg, d, r.from, n)
					}
				}
			}
		}
	}
}
