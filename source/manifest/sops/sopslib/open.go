package sopslib

import (
	"github.com/getsops/sops/v3/cmd/sops/formats"
	"github.com/getsops/sops/v3/decrypt"

	"github.com/digitops/digitops/source/manifest/sops"
)

var _ sops.Opener = Open

// Open decrypts a SOPS file in memory with the keys sops finds itself (see
// the sops package), as `sops decrypt` does: JSON when name ends in .json,
// else YAML. Its errors are the library's; sops.Decrypter tells a missing
// key from a corrupt file.
func Open(data []byte, name string) ([]byte, error) {
	format := formats.Yaml
	if formats.IsJSONFile(name) {
		format = formats.Json
	}
	return decrypt.DataWithFormat(data, format)
}
