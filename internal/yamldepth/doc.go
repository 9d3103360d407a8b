// Package yamldepth bounds how deeply a YAML document nests, before any
// parser reads it.
//
// Repository files are untrusted, and YAML parsers pay for nesting: yaml.v3
// refuses 10,000 levels only after building them, and goccy/go-yaml (which
// digitops uses to locate syntax errors) costs memory quadratic in the depth
// (a 200 KB values file of `x: [[[…]]]` took 15 GB). Check scans the bytes
// once, in constant memory per level, the way libyaml tokenizes them: flow
// collections (`[`, `{`) outside quoted, plain and block scalars and
// comments, and block collections by their indentation (a `- ` or a
// `key:` more indented than its parent). It reports the first line where
// the nesting passes the limit:
//
//	if err := yamldepth.Check(data, yamldepth.Max); err != nil {
//		var de *yamldepth.Error // de.Line is the line at fault
//	}
//
// The scan is no parser: it accepts what a parser refuses, and may count a
// level a parser does not build (a plain scalar YAML 1.1 reads otherwise),
// never fewer levels than libyaml-based parsers build.
package yamldepth
