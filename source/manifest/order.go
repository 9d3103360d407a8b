package manifest

import (
	"fmt"
	"sort"
	"strings"
)

// Validate checks what every layout must satisfy: unique release names,
// needs that exist and form no cycle. It returns the releases in a stable
// dependency order (a release after everything it needs, otherwise in the
// order declared).
func Validate(file string, releases []ReleaseSpec) ([]ReleaseSpec, error) {
	index := make(map[string]int, len(releases))
	for i, r := range releases {
		src := r.Source
		if src == "" {
			src = file
		}
		if r.Name == "" {
			return nil, &Error{File: src, Msg: "release without a name"}
		}
		if _, dup := index[r.Name]; dup {
			return nil, &Error{File: src, Release: r.Name, Msg: "duplicate release name"}
		}
		index[r.Name] = i
	}
	for _, r := range releases {
		for _, n := range r.Needs {
			if _, ok := index[n]; !ok {
				src := r.Source
				if src == "" {
					src = file
				}
				return nil, &Error{File: src, Release: r.Name, Msg: fmt.Sprintf("needs %q, which is not a release of this environment", n)}
			}
		}
	}
	order, cycle := topoOrder(releases, index)
	if cycle != nil {
		// Name the file of the cycle's first release (a helmfile's, not
		// digitops.yaml).
		src := file
		if i, ok := index[cycle[0]]; ok && releases[i].Source != "" {
			src = releases[i].Source
		}
		return nil, &Error{File: src, Msg: "needs cycle: " + strings.Join(cycle, " -> ")}
	}
	out := make([]ReleaseSpec, len(order))
	for i, j := range order {
		out[i] = releases[j]
	}
	return out, nil
}

// topoOrder returns indexes in dependency order, or a cycle of names.
func topoOrder(releases []ReleaseSpec, index map[string]int) ([]int, []string) {
	const (
		unvisited = iota
		visiting
		done
	)
	state := make([]int, len(releases))
	order := make([]int, 0, len(releases))
	var stack []int
	var visit func(i int) []string
	visit = func(i int) []string {
		switch state[i] {
		case done:
			return nil
		case visiting:
			// The cycle is the part of the stack from i.
			var cycle []string
			for k := len(stack) - 1; k >= 0; k-- {
				cycle = append([]string{releases[stack[k]].Name}, cycle...)
				if stack[k] == i {
					break
				}
			}
			return append(cycle, releases[i].Name)
		}
		state[i] = visiting
		stack = append(stack, i)
		needs := make([]int, 0, len(releases[i].Needs))
		for _, n := range releases[i].Needs {
			needs = append(needs, index[n])
		}
		sort.Ints(needs)
		for _, j := range needs {
			if c := visit(j); c != nil {
				return c
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
		order = append(order, i)
		return nil
	}
	for i := range releases {
		if c := visit(i); c != nil {
			return nil, c
		}
	}
	return order, nil
}
