// Package sopslib is the sops library behind digitops's SOPS files: Open
// decrypts a file in memory (a sops.Opener), Encrypt writes test fixtures
// and examples.
//
// It is a package of its own because the library links every key source
// sops knows (age, PGP, and the SDKs of AWS KMS, GCP KMS, Azure Key Vault
// and HashiCorp Vault: some 350 packages). Only the program (cmd/digitops)
// imports it and hands Open to the loader and the daemon; the packages that
// load environments, and their tests, link none of it.
package sopslib
