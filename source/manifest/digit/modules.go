package digit

import (
	"fmt"
	"strings"

	"github.com/digitops/digitops/source/manifest"
)

// OrderModules returns the modules named in selected (when selected is
// empty, the modules the Go deployer's installer offers: those named m_*,
// or all when none is) together with every module they depend on, directly or
// not, in a topological order: a module after all of its dependencies, and
// otherwise in the order the release chart declares them. A dependency cycle
// is broken where it closes, as the Go deployer breaks it (it visits each
// module once), and returned as a warning that prints the cycle; the edge
// that closes it is not a dependency in the order. Unknown names in selected
// are returned as unknown for the caller to report where they were written.
func OrderModules(rc *ReleaseChart, selected []string) (order []*Module, unknown []string, warnings []manifest.Warning) {
	roots := selected
	if len(roots) == 0 {
		roots = rc.defaultModules()
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(name string)
	visit = func(name string) {
		m, _ := rc.Module(name)
		if state[name] != unvisited {
			return
		}
		state[name] = visiting
		stack = append(stack, name)
		for _, d := range m.Dependencies {
			if _, ok := rc.Module(d.Name); !ok {
				continue // unknown: a warning of the release chart
			}
			if state[d.Name] == visiting {
				i := len(stack) - 1
				for i > 0 && stack[i] != d.Name {
					i--
				}
				cycle := append(append([]string{}, stack[i:]...), d.Name)
				warnings = append(warnings, manifest.Warning{File: rc.File, Line: d.Line,
					Msg: fmt.Sprintf("module dependency cycle: %s; %q is deployed before %q here (the Go deployer visits each module once and breaks the cycle the same way)", strings.Join(cycle, " -> "), d.Name, name)})
				continue
			}
			visit(d.Name)
		}
		stack = stack[:len(stack)-1]
		state[name] = done
		order = append(order, m)
	}
	// Visit the roots in declaration order so that ties keep the file's order.
	want := map[string]bool{}
	for _, s := range roots {
		if _, ok := rc.Module(s); !ok {
			unknown = append(unknown, s)
			continue
		}
		want[s] = true
	}
	for i := range rc.Modules {
		if want[rc.Modules[i].Name] {
			visit(rc.Modules[i].Name)
		}
	}
	return order, unknown, warnings
}

// moduleNeeds computes, for each module, the modules whose releases its
// releases need: the nearest modules with releases among its transitive
// dependencies, minus those already reached through another one (a
// transitive reduction). This keeps the release DAG small: m_pgr, which
// depends on core, business and frontend, only needs frontend's releases
// when frontend already (transitively) needs business and core.
// hasReleases says whether a module contributes any release; modules without
// one are looked through.
func moduleNeeds(order []*Module, hasReleases map[string]bool) map[string][]string {
	pos := make(map[string]int, len(order))
	for i, m := range order {
		pos[m.Name] = i
	}
	closure := map[string]map[string]bool{} // transitive dependencies
	for i, m := range order {               // dependencies come first
		c := map[string]bool{}
		for _, d := range m.Dependencies {
			if p, ok := pos[d.Name]; !ok || p >= i {
				continue // unknown, or the edge that closes a cycle
			}
			c[d.Name] = true
			for x := range closure[d.Name] {
				c[x] = true
			}
		}
		closure[m.Name] = c
	}
	out := map[string][]string{}
	for _, m := range order {
		var cands []string
		for _, o := range order { // keep the topological order in the result
			if closure[m.Name][o.Name] && hasReleases[o.Name] {
				cands = append(cands, o.Name)
			}
		}
		var reduced []string
		for _, d := range cands {
			implied := false
			for _, e := range cands {
				if e != d && closure[e][d] {
					implied = true
					break
				}
			}
			if !implied {
				reduced = append(reduced, d)
			}
		}
		out[m.Name] = reduced
	}
	return out
}

func unknownModulesError(file string, line int, unknown []string, rc *ReleaseChart) error {
	return &manifest.Error{File: file, Line: line, Msg: fmt.Sprintf("modules: unknown module(s) %s in %s (it has: %s)",
		strings.Join(quoteAll(unknown), ", "), rc.File, strings.Join(rc.moduleNames(), ", "))}
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}
