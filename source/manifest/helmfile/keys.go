package helmfile

// The keys of a helmfile digitops knows, by what it does with them. A key in
// none of these sets is an error ("unknown key"), as a typo must not pass
// for a setting.

// topKeys are the top-level keys digitops reads.
var topKeys = set("helmfiles", "releases", "templates", "environments", "values",
	"repositories", "commonLabels", "missingFileHandler", "helmDefaults")

// topNoEffect are top-level keys that only tune the helm/helmfile binaries.
var topNoEffect = set("helmBinary", "kustomizeBinary", "lockFilePath", "missingFileHandlerConfig")

// topUnsupported are top-level keys that would change what is deployed and
// that digitops does not implement.
var topUnsupported = map[string]string{
	"bases":       "bases are not supported: put the environments and defaults in this file or pass values to it through helmfiles:",
	"apiVersions": "apiVersions changes how charts render and is not supported",
	"kubeVersion": "kubeVersion changes how charts render and is not supported",
	"hooks":       "hooks run commands and are not supported",
}

// releaseKeys are the release keys digitops reads.
var releaseKeys = set("name", "namespace", "chart", "version", "needs", "installed",
	"installedTemplate", "condition", "labels", "values", "valuesTemplate", "secrets",
	"set", "missingFileHandler", "inherit")

// actionKeys tune how helm acts, which digitops's sync policy decides; they
// are accepted and logged. They appear in releases and helmDefaults.
var actionKeys = set("wait", "waitTemplate", "waitForJobs", "timeout", "atomic", "cleanupOnFail",
	"force", "recreatePods", "historyMax", "createNamespace", "disableValidation",
	"disableOpenAPIValidation", "disableValidationOnInstall", "skipDeps", "verify",
	"verifyTemplate", "keyring", "description", "deleteWait", "deleteTimeout",
	"suppressDiff", "suppressSecrets", "suppressOutputLineRegex", "showOnly",
	"skipSchemaValidation", "syncReleaseLabels", "diffArgs", "syncArgs",
	"insecureSkipTLSVerify", "plainHttp")

// unsupportedKeys are release or helmDefaults keys that would change what is
// deployed or where, with the reason.
var unsupportedKeys = map[string]string{
	"hooks":                 "hooks run commands and are not supported",
	"strategicMergePatches": "strategicMergePatches (kustomize) are not supported",
	"jsonPatches":           "jsonPatches (kustomize) are not supported",
	"transformers":          "transformers (kustomize) are not supported",
	"dependencies":          "adhoc chart dependencies are not supported: declare them in the chart's Chart.yaml",
	"kubeContext":           "kubeContext is not supported: an environment targets one cluster, set cluster: in digitops.yaml",
	"postRenderer":          "post-renderers are not supported",
	"postRendererArgs":      "post-renderers are not supported",
	"args":                  "extra helm arguments are not supported",
	"forceNamespace":        "forceNamespace is not supported",
	"adopt":                 "adopt is not supported",
	"apiVersions":           "apiVersions changes how charts render and is not supported",
	"kubeVersion":           "kubeVersion changes how charts render and is not supported",
	"devel":                 "devel (pre-release chart versions) is not supported: pin a version",
	"reuseValues":           "reuseValues is not supported: the values in Git are the desired state",
	"tillerNamespace":       "Helm 2 (tiller) settings are not supported",
	"tillerless":            "Helm 2 (tiller) settings are not supported",
	"forceGoGetter":         "go-getter chart sources are not supported",
	"setTemplate":           "setTemplate is not supported: use set with templated values",
	"takeOwnership":         "takeOwnership is not supported",
	"enableDNS":             "enableDNS changes how charts render and is not supported",
	"chartPath":             "chartPath is not supported",
	"cascade":               "cascade is not supported",
	"labels":                "labels in helmDefaults are not supported: use commonLabels",
}

// repositoryKeys are the repository keys digitops reads.
var repositoryKeys = set("name", "url", "oci")

// environmentKeys are the keys of one environment digitops reads.
var environmentKeys = set("values", "secrets", "missingFileHandler")

// helmfilesKeys are the keys of one helmfiles: entry digitops reads.
var helmfilesKeys = set("path", "values", "selectors", "selectorsInherited")

func set(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}
