// Package sops reads secrets files for the layouts: plain YAML, or files
// encrypted with SOPS (a top-level sops: block), decrypted in memory by the
// Decrypter's Opener (sopslib.Open: github.com/getsops/sops/v3's decrypt
// package, which this package does not import). No plaintext is ever
// written to disk.
//
// # Keys
//
// sops finds the keys itself, the same way the sops command does:
//
//   - age: SOPS_AGE_KEY_FILE (a key file), SOPS_AGE_KEY (keys in the
//     variable), SOPS_AGE_KEY_CMD, else $XDG_CONFIG_HOME/sops/age/keys.txt;
//   - PGP: the GnuPG keyring (GNUPGHOME), through go-crypto's OpenPGP for
//     a legacy secring.gpg, else the gpg binary (over pipes);
//   - AWS KMS, GCP KMS, Azure Key Vault, HashiCorp Vault: the SDK's usual
//     credentials.
//
// Reading keys from a Kubernetes Secret is not done yet.
//
// When no key at hand opens the file, the error is a [*MissingKeyError]
// that names the file and every recipient listed in its sops metadata (age
// recipients, PGP fingerprints, KMS ARNs and the others).
//
// # Placeholders
//
// In manifest.SecretsPlaceholder mode nothing is decrypted: every encrypted
// value becomes [Placeholder] of its ciphertext,
// "sops-placeholder-<first 12 hex digits of its SHA-256>". A plan made this
// way needs no key, is stable from one run to the next, and still shows which
// secrets changed. Apply must refuse values for which [IsPlaceholder] holds.
//
// # Masking
//
// DecryptValues returns every string leaf of a plain or decrypted file as a
// secret to mask; in placeholder mode only the file's unencrypted strings
// (placeholders are not secret).
package sops
