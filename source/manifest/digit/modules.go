package digit

import (
	"fmt"
	"strings"

	"github.com/digitops/digitops/source/manifest"
)

// OrderModules returns the modules named in selected (all modules when
// selected is empty) together with every module they depend on, directly or
// not, in a topological order: a module after all of its dependencies, and
// otherwise in the order the release chart declares them. A dependency cycle
// is an error that prints the cycle. Unknown names in selected are returned
// as unknown for the caller to report where they were written.
func OrderModules(rc *ReleaseChart, selected []string) (order []*Module, unknown []string, err error) {
	roots := selected
	if len(roots) == 0 {
		roots = rc.moduleNames()
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(name string) error
	visit = func(name string) error {
		m, _ := rc.Module(name)
		switch state[name] {
		case done:
			return nil
		case visiting:
			i := len(stack) - 1
			for i > 0 && stack[i] != name {
				i--
			}
			cycle := append(append([]string{}, stack[i:]...), name)
			return &manifest.Error{File: rc.File, Line: m.Line, Msg: "module dependency cycle: " + strings.Join(cycle, " -> ")}
		}
		state[name] = visiting
		stack = append(stack, name)
		for _, d := range m.Dependencies {
			if _, ok := rc.Module(d.Name); !ok {
				continue // unknown: a warning of the release chart
			}
			if err := visit(d.Name); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
		order = append(order, m)
		return nil
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
			if err := visit(rc.Modules[i].Name); err != nil {
				return nil, nil, err
			}
		}
	}
	return order, unknown, nil
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
	byName := make(map[string]*Module, len(order))
	for _, m := range order {
		byName[m.Name] = m
	}
	closure := map[string]map[string]bool{} // transitive dependencies
	for _, m := range order {               // dependencies come first
		c := map[string]bool{}
		for _, d := range m.Dependencies {
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
