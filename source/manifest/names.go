package manifest

import (
	"fmt"
	"strings"

	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/util/validation"
)

// CheckReleaseName returns why name cannot be a Helm release name, or nil:
// Helm's own rule (a DNS-1123 subdomain of at most 53 characters).
func CheckReleaseName(name string) error {
	if chartutil.ValidateReleaseName(name) != nil {
		return fmt.Errorf("%q is not a valid Helm release name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 53 characters)", name)
	}
	return nil
}

// CheckNamespace returns why ns cannot be a namespace, or nil (a DNS-1123
// label: at most 63 lowercase letters, digits and '-').
func CheckNamespace(ns string) error {
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return fmt.Errorf("namespace %q is not valid: %s", ns, strings.Join(errs, "; "))
	}
	return nil
}

// CheckEnvironmentName returns why name cannot name an environment, or nil.
// An environment's name becomes a Helm label value, a metric label and a
// path of the status API, so it is a DNS-1123 subdomain of at most 63
// characters: lowercase letters, digits, '-' and '.', starting and ending
// with a letter or digit (DIGIT's are its environment files' names:
// unified-dev, ci-demo; a version may be part of it: uat-v2.8).
func CheckEnvironmentName(name string) error {
	if len(name) > 63 || len(validation.IsDNS1123Subdomain(name)) > 0 || strings.Contains(name, "..") {
		shown := name
		if len(shown) > 80 {
			shown = shown[:80] + "…"
		}
		return fmt.Errorf("environment name %q is not valid: want at most 63 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit", shown)
	}
	return nil
}
