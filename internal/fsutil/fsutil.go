// Package fsutil holds the small file-system helpers the demo and the tests
// share.
package fsutil

import (
	"io/fs"
	"os"
	"path/filepath"
)

// CopyTree copies the directory src into dst (created as needed), files with
// mode 0644 and directories with 0755.
func CopyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
