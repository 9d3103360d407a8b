package policy

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/digitops/digitops/source/manifest"
)

// String is the entry as messages list it: "context dev",
// "kubeconfigSecret digitops/dev key value".
func (e clusterEntry) String() string {
	ref := manifest.ClusterRef{Context: e.Context, Kubeconfig: e.Kubeconfig}
	if s := e.KubeconfigSecret; s != nil {
		ref.KubeconfigSecret = &manifest.SecretKeyRef{Namespace: s.Namespace, Name: s.Name, Key: s.Key}
	}
	return describeCluster(ref, show)
}

// describeRef is a cluster as messages name it: `context "prod"`.
func describeRef(c manifest.ClusterRef) string { return describeCluster(c, quote) }

// describeCluster names a cluster's fields, each value as text gives it.
func describeCluster(c manifest.ClusterRef, text func(string) string) string {
	var parts []string
	if c.Kubeconfig != "" {
		parts = append(parts, "kubeconfig "+text(c.Kubeconfig))
	}
	if s := c.KubeconfigSecret; s != nil {
		parts = append(parts, "kubeconfigSecret "+text(secretName(s.Namespace, s.Name)))
		if s.Key != "" {
			parts = append(parts, "key "+text(s.Key))
		}
	}
	if c.Context != "" {
		parts = append(parts, "context "+text(c.Context))
	}
	return strings.Join(parts, " ")
}

func secretName(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// objectName is Kind/name for a cluster-scoped object and Kind
// namespace/name for a namespaced one; qualify adds the group to the kind.
func objectName(o Object, qualify bool) string {
	kind := show(o.Kind)
	if qualify && o.Group != "" {
		kind = show(o.Kind + "." + o.Group)
	}
	switch {
	case o.ClusterScoped:
		return kind + "/" + show(o.Name)
	case o.Namespace == "":
		return kind + " " + show(o.Name) + " (no namespace)"
	}
	return kind + " " + show(o.Namespace) + "/" + show(o.Name)
}

// maxShown bounds a name in a message.
const maxShown = 253

// show is s as it is when it reads plainly in a message, else quoted
// (empty, spaces, quotes, commas, control characters) and cut to maxShown
// bytes.
func show(s string) string {
	plain := func(r rune) bool {
		return r != utf8.RuneError && unicode.IsGraphic(r) && !unicode.IsSpace(r) && !strings.ContainsRune(`"\,`, r)
	}
	if s != "" && len(s) <= maxShown && !strings.ContainsFunc(s, func(r rune) bool { return !plain(r) }) {
		return s
	}
	return quote(s)
}

// quote is s quoted, cut to maxShown bytes.
func quote(s string) string {
	if len(s) > maxShown {
		s = strings.ToValidUTF8(s[:maxShown-3], "") + "..."
	}
	return strconv.Quote(s)
}

// list is "a, b, c", at most 5 items then "and N more"; "none" when empty.
func list(items []string) string {
	const max = 5
	switch {
	case len(items) == 0:
		return "none"
	case len(items) <= max:
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:max], ", "), len(items)-max)
}

// oneLine escapes line breaks, so that every error is one line.
func oneLine(s string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}
