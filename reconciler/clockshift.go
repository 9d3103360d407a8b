package reconciler

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template/parse"
	"unicode"

	"helm.sh/helm/v3/pkg/chart"
)

// clockShift is how far ahead the clock reads in a chart clockShifted
// returns, as a duration for sprig's dateModify: more than a year, and an
// hour, a minute and a second more, so that a stamp in any of those units
// (a year, a weekday, a time of day) reads otherwise than the real clock.
const clockShift = "+9529h1m1s"

// clockFuncs are the template functions that read the clock: sprig's now,
// and the date functions, which take the time now when the date they are
// given is not one. ago and durationRound subtract from the clock, which
// a rewrite of the template cannot move: a chart that calls them is not
// clock-shifted.
func clockFuncs() funcs {
	return funcs{"now", "date", "dateInZone", "date_in_zone", "htmlDate", "htmlDateInZone", "ago", "durationRound"}
}

// dateParam says, for a sprig date function that takes the time now when
// its date is not a time, how many parameters it takes and which of them
// (from 0) is the date; ok is false for any other function.
func dateParam(name string) (arity, date int, ok bool) {
	switch name {
	case "date":
		return 2, 1, true
	case "dateInZone", "date_in_zone":
		return 3, 1, true
	case "htmlDate":
		return 1, 0, true
	case "htmlDateInZone":
		return 2, 0, true
	}
	return 0, 0, false
}

// clockShifted returns a copy of c whose templates read a clock clockShift
// ahead of the real one, and true, when every read of the clock a render
// of c with values can make is one the copy moves: then the copy, rendered
// at once, stands for a render made later, and what differs between it
// and a render of c is what renders differently on every run (the clock,
// and randomness, which differs anyway). It returns c itself when no
// template reads the clock. It returns false when a template calls ago or
// durationRound, when c calls tpl and a value or a file is a template
// that reads the clock or a string or text of a template names a clock
// function (tpl may render what is built from it), or when a template
// that reads it does not parse: such a chart's second render must wait
// for the wall clock.
func clockShifted(c *chart.Chart, values map[string]any) (*chart.Chart, bool) {
	fs := clockFuncs()
	if chartCalls(c, "", funcs{"ago", "durationRound"}, true) != nil {
		return nil, false
	}
	if chartCalls(c, "", funcs{"tpl"}, true) != nil && (valuesHold(values, 0, func(v string) bool { return tplCalls(v, fs) }) || tplSourcesCall(c, fs)) {
		return nil, false
	}
	if chartCalls(c, "", fs, true) == nil {
		return c, true
	}
	out, err := shiftChartClock(c)
	if err != nil {
		return nil, false
	}
	return out, true
}

// tplSourcesCall reports whether c or a subchart holds a template for tpl
// that calls one of fs: a default value, a file that is not a template,
// or a string in a template.
func tplSourcesCall(c *chart.Chart, fs funcs) bool {
	if valuesHold(c.Values, 0, func(v string) bool { return tplCalls(v, fs) }) {
		return true
	}
	for _, f := range c.Files {
		if tplCalls(string(f.Data), fs) {
			return true
		}
	}
	// A string or a text of a template that names one of fs may become
	// part of what tpl renders (`tpl (printf "{{ %s }}" "now") .`, or an
	// include of a define whose text is a template): taken to call it.
	quoted := func(n parse.Node) bool {
		switch n := n.(type) {
		case *parse.StringNode:
			return namesWord(n.Text, fs)
		case *parse.TextNode:
			return namesWord(string(n.Text), fs)
		}
		return false
	}
	for _, t := range c.Templates {
		if text := string(t.Data); fs.named(text) && templateAny(t.Name, text, quoted) {
			return true
		}
	}
	return slices.ContainsFunc(c.Dependencies(), func(d *chart.Chart) bool { return tplSourcesCall(d, fs) })
}

// tplCalls reports whether text, given to tpl, can call one of fs: text
// calls one, or, when it is not a template that parses (a chart's
// README.md, which tpl would refuse whole), one of its actions alone does
// (a part of it, a line, may be given to tpl).
func tplCalls(text string, fs funcs) bool {
	if !strings.Contains(text, "{{") || !fs.named(text) {
		return false
	}
	if trees, err := parseTemplate("tpl", text); err == nil {
		return treesHold(trees, fs.called)
	}
	for rest := text; ; {
		start := strings.Index(rest, "{{")
		if start < 0 {
			return false
		}
		end := strings.Index(rest[start:], "}}")
		if end < 0 {
			return false
		}
		if trees, err := parseTemplate("tpl", rest[start:start+end+2]); err == nil && treesHold(trees, fs.called) {
			return true
		}
		rest = rest[start+end+2:]
	}
}

// namesWord reports whether text holds one of fs as a word of its own
// (not "update" for date).
func namesWord(text string, fs funcs) bool {
	if !fs.named(text) {
		return false
	}
	word := func(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }
	return slices.ContainsFunc(strings.FieldsFunc(text, func(r rune) bool { return !word(r) }), fs.has)
}

// parses reports whether text is a Go template that parses.
func parses(text string) bool {
	_, err := parseTemplate("tpl", text)
	return err == nil
}

// shiftChartClock copies c and its subcharts, every template that reads
// the clock rewritten by shiftTemplateClock; c is not changed.
func shiftChartClock(c *chart.Chart) (*chart.Chart, error) {
	out := *c
	out.Templates = make([]*chart.File, len(c.Templates))
	for k, t := range c.Templates {
		out.Templates[k] = t
		if !templateCalls(t.Name, string(t.Data), clockFuncs()) {
			continue
		}
		text, err := shiftTemplateClock(t.Name, string(t.Data))
		if err != nil {
			return nil, err
		}
		out.Templates[k] = &chart.File{Name: t.Name, Data: []byte(text)}
	}
	deps := make([]*chart.Chart, 0, len(c.Dependencies()))
	for _, d := range c.Dependencies() {
		sd, err := shiftChartClock(d)
		if err != nil {
			return nil, err
		}
		deps = append(deps, sd)
	}
	out.SetDependencies(deps...)
	return &out, nil
}

// shiftTemplateClock rewrites a Go template so that it reads a clock
// clockShift ahead: `now` becomes `dateModify "+…" now`, and the date of a
// sprig date function (date, dateInZone, htmlDate, …) that would take the
// time now, because it is not a time.Time, *time.Time or int, becomes the
// shifted now (the date is checked by type, as sprig does). The rest of
// the template renders as before: the text comes back from the parse tree,
// and each `define` after the template it was in.
func shiftTemplateClock(name, text string) (string, error) {
	trees, err := parseTemplate(name, text)
	if err != nil {
		return "", fmt.Errorf("unable to parse template %s: %w", name, err)
	}
	names := make([]string, 0, len(trees))
	for n := range trees {
		if n != name {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	if tree := trees[name]; tree != nil {
		shiftList(tree.Root)
		b.WriteString(rootText(tree.Root))
	}
	for _, n := range names {
		root := trees[n].Root
		shiftList(root)
		fmt.Fprintf(&b, "{{define %s}}%s{{end}}", strconv.Quote(n), rootText(root))
	}
	out := b.String()
	if !parses(out) {
		return "", fmt.Errorf("template %s rewritten does not parse", name)
	}
	return out, nil
}

// rootText is a parse tree's text; "" for an empty tree.
func rootText(root *parse.ListNode) string {
	if root == nil {
		return ""
	}
	return root.String()
}

// shiftList rewrites the clock reads of every action in l. A text that
// ends in "{" ends in an action that prints it instead: the text comes
// back without the trim marker of the action after it (`{ {{- if …}}`
// becomes `{{{if …}}`), which would not parse.
func shiftList(l *parse.ListNode) {
	if l == nil {
		return
	}
	nodes := make([]parse.Node, 0, len(l.Nodes))
	for _, n := range l.Nodes {
		if t, ok := n.(*parse.TextNode); ok && bytes.HasSuffix(t.Text, []byte("{")) {
			nodes = append(nodes,
				&parse.TextNode{NodeType: parse.NodeText, Text: t.Text[:len(t.Text)-1]},
				&parse.ActionNode{NodeType: parse.NodeAction, Pipe: pipeOf(command(str("{")))})
			continue
		}
		nodes = append(nodes, n)
	}
	l.Nodes = nodes
	for _, n := range l.Nodes {
		switch n := n.(type) {
		case *parse.ActionNode:
			shiftPipe(n.Pipe)
		case *parse.IfNode:
			shiftBranch(&n.BranchNode)
		case *parse.RangeNode:
			shiftBranch(&n.BranchNode)
		case *parse.WithNode:
			shiftBranch(&n.BranchNode)
		case *parse.TemplateNode:
			shiftPipe(n.Pipe)
		case *parse.ListNode:
			shiftList(n)
		}
	}
}

func shiftBranch(b *parse.BranchNode) {
	shiftPipe(b.Pipe)
	shiftList(b.List)
	shiftList(b.ElseList)
}

// shiftPipe rewrites the clock reads of a pipeline, its arguments first.
// A date function that is given its date down the pipeline (`.x | date
// "…"`) takes the commands before it as its date argument, checked.
func shiftPipe(p *parse.PipeNode) {
	if p == nil {
		return
	}
	for k := 0; k < len(p.Cmds); k++ {
		cmd := p.Cmds[k]
		for i := 1; i < len(cmd.Args); i++ {
			cmd.Args[i] = shiftArg(cmd.Args[i])
		}
		id, ok := cmd.Args[0].(*parse.IdentifierNode)
		if !ok {
			cmd.Args[0] = shiftArg(cmd.Args[0])
			continue
		}
		if id.Ident == "now" && len(cmd.Args) == 1 {
			cmd.Args = shiftedNow().Args
			continue
		}
		arity, date, ok := dateParam(id.Ident)
		if !ok {
			continue
		}
		given := len(cmd.Args) - 1
		switch {
		case given == arity, given == arity-1 && k > 0 && date < arity-1:
			cmd.Args[1+date] = checkedDate(cmd.Args[1+date])
		case given == arity-1 && k > 0:
			// The date comes down the pipeline: what came before is
			// the argument now.
			before := &parse.PipeNode{NodeType: parse.NodePipe, Cmds: slices.Clone(p.Cmds[:k])}
			cmd.Args = append(cmd.Args, checkedDate(before))
			p.Cmds = append([]*parse.CommandNode{cmd}, p.Cmds[k+1:]...)
			k = 0
		}
	}
}

// shiftArg rewrites the clock reads of one argument: `now` as an argument
// becomes the shifted now.
func shiftArg(n parse.Node) parse.Node {
	switch n := n.(type) {
	case *parse.IdentifierNode:
		if n.Ident == "now" {
			return pipeOf(shiftedNow())
		}
	case *parse.PipeNode:
		shiftPipe(n)
	case *parse.ChainNode:
		n.Node = shiftArg(n.Node)
	}
	return n
}

// checkedDate is the date argument d of a sprig date function, as the
// shifted now where sprig would take the time now: `ternary d (dateModify
// "+…" now) (has (typeOf d) (list "time.Time" "*time.Time" "int" "int32"
// "int64"))`. A shifted now is left as it is. d is evaluated twice (a
// lookup in it reads twice): the copy is only a probe, and its output is
// the same.
func checkedDate(d parse.Node) parse.Node {
	if p, ok := d.(*parse.PipeNode); ok && len(p.Cmds) == 1 && isShiftedNow(p.Cmds[0]) {
		return d
	}
	types := command(ident("list"), str("time.Time"), str("*time.Time"), str("int"), str("int32"), str("int64"))
	isDate := command(ident("has"), pipeOf(command(ident("typeOf"), d)), pipeOf(types))
	return pipeOf(command(ident("ternary"), d, pipeOf(shiftedNow()), pipeOf(isDate)))
}

// shiftedNow is the command `dateModify "+…" now`.
func shiftedNow() *parse.CommandNode {
	return command(ident("dateModify"), str(clockShift), ident("now"))
}

func isShiftedNow(c *parse.CommandNode) bool {
	if len(c.Args) != 3 {
		return false
	}
	f, ok1 := c.Args[0].(*parse.IdentifierNode)
	s, ok2 := c.Args[1].(*parse.StringNode)
	n, ok3 := c.Args[2].(*parse.IdentifierNode)
	return ok1 && ok2 && ok3 && f.Ident == "dateModify" && s.Text == clockShift && n.Ident == "now"
}

func command(args ...parse.Node) *parse.CommandNode {
	return &parse.CommandNode{NodeType: parse.NodeCommand, Args: args}
}

func pipeOf(cmds ...*parse.CommandNode) *parse.PipeNode {
	return &parse.PipeNode{NodeType: parse.NodePipe, Cmds: cmds}
}

func ident(name string) *parse.IdentifierNode { return parse.NewIdentifier(name) }

func str(s string) *parse.StringNode {
	return &parse.StringNode{NodeType: parse.NodeString, Quoted: strconv.Quote(s), Text: s}
}
