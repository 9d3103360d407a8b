// Package helmfile reads the helmfile layout: DIGIT's helmfile deployment
// (deploy-as-code/digit-helmfile.yaml and the sub-helmfiles it lists) turned
// into digitops ReleaseSpecs.
//
// # What it reads
//
// The root helmfile named by `helmfile:` in digitops.yaml, its `helmfiles:`
// (depth first, in order, each relative to its parent), and in each file the
// `releases`, `templates` (YAML anchors, merge keys and `inherit`),
// `environments` (the one named by `helmfileEnvironment`, "default" when
// unset), top-level `values`, `repositories` and `commonLabels`.
//
// # Templating
//
// Files ending in .gotmpl are rendered once per `---` part, as helmfile v1
// does. Every other file (DIGIT's .yaml, written for helmfile v0.14x) is
// rendered in two passes as v0 did: a lenient first pass to find the
// environment, then a strict pass with .Values and .Environment; both
// render the text as written. The release fields (name, namespace, chart,
// version, labels, needs, secrets, installedTemplate, values file names
// and valuesTemplate mappings) are then rendered once more per release
// with .Release, which is what makes the escaped {{`{{ .Release.Name }}`}}
// form work; every such pass renders the fields as the file pass left them,
// as helmfile does, and inline values and set are not rendered again, so a
// template meant for the chart or for Alertmanager, escaped once, reaches
// the values as written. The functions are sprig's plus helmfile's toYaml,
// fromYaml, required, requiredEnv, env, readFile, readDir, tpl, get,
// getOrNil, setValueAtPath, isFile and isDir; exec and the vals secret
// functions fail. env, expandenv and requiredEnv read only the variables
// the operator allows (LayoutInput.AllowEnv, `--helmfile-env`; none by
// default): any other reads as unset, and requiredEnv of it fails naming
// it. digitops's own credentials (DIGITOPS_*, SOPS_*, the cloud keys the
// decrypter uses) read as unset even when a pattern allows them.
//
// # Lines in errors
//
// Errors name the helmfile (or values file) as the user wrote it and a line
// of that file, never a line of the rendered text: the renderer marks the
// template's text with its lines (lines.go), so a line of output maps to
// the line of the text, or of the action, that wrote it. Where no line can
// be told, the error names the file alone.
//
// # What it refuses
//
// Every helmfile feature digitops cannot honour (hooks, patches,
// transformers, kubeContext, bases, exec, …) fails with an error naming the
// feature and the file; none is silently ignored. Helm action flags that
// digitops's own sync policy decides (wait, timeout, atomic, force, …) are
// accepted and logged. SUPPORTED.md lists the subset.
//
// A release with `installed: false` (or a false `condition`) is not desired:
// digitops plans no release for it, and with prune on, a live release of that
// name that digitops installed earlier is uninstalled.
package helmfile
