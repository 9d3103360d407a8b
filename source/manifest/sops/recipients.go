package sops

import (
	"fmt"
	"strings"
)

// Recipient is one master key a SOPS file is encrypted for.
type Recipient struct {
	// Type is age, pgp, kms, gcp_kms, azure_kv, hc_vault or hckms.
	Type string
	// ID is the age recipient, PGP fingerprint, KMS ARN, GCP resource ID,
	// Azure Key Vault key URL, Vault key URL or HuaweiCloud key ID.
	ID string
}

func (r Recipient) String() string { return r.Type + " " + r.ID }

// Recipients lists the master keys of a file's sops: metadata (as parsed
// values), including those inside key_groups, in the file's order.
func Recipients(meta any) []Recipient {
	m, ok := meta.(map[string]any)
	if !ok {
		return nil
	}
	var out []Recipient
	add := func(group map[string]any) {
		for _, kind := range []string{"age", "pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms"} {
			list, _ := group[kind].([]any)
			for _, item := range list {
				k, ok := item.(map[string]any)
				if !ok {
					continue
				}
				if id := recipientID(kind, k); id != "" {
					out = append(out, Recipient{Type: kind, ID: id})
				}
			}
		}
	}
	add(m)
	groups, _ := m["key_groups"].([]any)
	for _, g := range groups {
		if gm, ok := g.(map[string]any); ok {
			add(gm)
		}
	}
	return out
}

func recipientID(kind string, k map[string]any) string {
	s := func(key string) string {
		v, _ := k[key].(string)
		return v
	}
	switch kind {
	case "age":
		return s("recipient")
	case "pgp":
		return s("fp")
	case "kms":
		return s("arn")
	case "gcp_kms":
		return s("resource_id")
	case "azure_kv":
		return strings.TrimSuffix(s("vault_url"), "/") + "/keys/" + s("name") + "/" + s("version")
	case "hc_vault":
		return strings.TrimSuffix(s("vault_address"), "/") + "/v1/" + s("engine_path") + "/keys/" + s("key_name")
	case "hckms":
		return s("key_id")
	}
	return ""
}

// MissingKeyError says that no key at hand could decrypt a SOPS file's data
// key; it lists the recipients one of whose keys is needed.
type MissingKeyError struct {
	// File is the repository-relative name of the file.
	File string
	// Recipients are the file's master keys.
	Recipients []Recipient
	// Err is sops's error.
	Err error
}

func (e *MissingKeyError) Error() string {
	rs := make([]string, len(e.Recipients))
	for i, r := range e.Recipients {
		rs[i] = r.String()
	}
	list := "none listed in its sops metadata"
	if len(rs) > 0 {
		list = strings.Join(rs, ", ")
	}
	return fmt.Sprintf("%s: cannot decrypt: no key at hand for any of its recipients: %s "+
		"(age keys are read from SOPS_AGE_KEY_FILE, SOPS_AGE_KEY or the user's sops/age/keys.txt; PGP keys from the GnuPG keyring; "+
		"cloud KMS keys with the SDK's credentials; use --secrets=placeholder to plan without keys)", e.File, list)
}

func (e *MissingKeyError) Unwrap() error { return e.Err }
