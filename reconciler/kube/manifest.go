package kube

import (
	"fmt"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/releaseutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Objects splits a rendered manifest into objects, in order.
func Objects(m string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	err := eachManifestObject(m, func(_ []byte, u *unstructured.Unstructured) { out = append(out, u) })
	return out, err
}

// ObjectsJSON splits a rendered manifest into objects, in order, each as
// JSON.
func ObjectsJSON(m string) ([][]byte, error) {
	var out [][]byte
	err := eachManifestObject(m, func(js []byte, _ *unstructured.Unstructured) { out = append(out, js) })
	return out, err
}

// eachManifestObject calls f with each object of a rendered manifest, in
// order, as JSON and decoded; empty documents, lists and objects without a
// kind or name are left out.
func eachManifestObject(m string, f func(js []byte, u *unstructured.Unstructured)) error {
	for _, doc := range Documents(m) {
		js, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			return fmt.Errorf("unable to parse manifest: %w", err)
		}
		if s := strings.TrimSpace(string(js)); s == "null" || s == "{}" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			return fmt.Errorf("unable to decode manifest object: %w", err)
		}
		if u.IsList() || u.GetKind() == "" || u.GetName() == "" {
			continue
		}
		f(js, u)
	}
	return nil
}

// Documents splits a rendered manifest into its YAML documents, in order:
// the one splitter digitops has (Helm's, which names documents
// manifest-0, manifest-1, … and loses their order in a map).
func Documents(m string) []string {
	docs := releaseutil.SplitManifests(m)
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = docs[k]
	}
	return out
}

// Ref names an object as digitops always does: Kind/namespace/name, or
// Kind/name for a cluster-scoped object.
func Ref(u *unstructured.Unstructured) string { return ref(u.GetKind(), u.GetNamespace(), u.GetName()) }

func ref(kind, namespace, name string) string {
	if namespace == "" {
		return kind + "/" + name
	}
	return kind + "/" + namespace + "/" + name
}

// ObjectRef names one object a release deployed.
type ObjectRef struct {
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
}

// String names the object as digitops always does: "Deployment/egov/egov-user".
func (o ObjectRef) String() string { return ref(o.Kind, o.Namespace, o.Name) }

// ManifestObjects lists the objects of a rendered release manifest (the
// release's Manifest: hooks are not in it), in install order. An object
// without a namespace gets namespace; cluster-scoped objects are told apart
// when they are read.
func ManifestObjects(manifest, namespace string) ([]ObjectRef, error) {
	var out []ObjectRef
	for _, doc := range Documents(manifest) {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			return nil, fmt.Errorf("unable to parse release manifest: %w", err)
		}
		if head.Kind == "" || head.Metadata.Name == "" {
			continue
		}
		ns := head.Metadata.Namespace
		if ns == "" {
			ns = namespace
		}
		out = append(out, ObjectRef{APIVersion: head.APIVersion, Kind: head.Kind, Namespace: ns, Name: head.Metadata.Name})
	}
	return out, nil
}
