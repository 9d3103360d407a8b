package chartrepo

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"

	"github.com/digitops/digitops/source/manifest"
)

// A pointer is a small file of the cache that names a chart of
// Dir/sha256: Dir/oci/<algorithm>/<hex> for an OCI manifest, and
// Dir/refs/<hex> for a release's chart reference (repository, name and
// version as written), which an offline Cache answers from.

// refPointer is the pointer of a chart reference.
func (c *Cache) refPointer(ref manifest.ChartRef) string {
	sum := sha256.Sum256([]byte(strings.TrimSuffix(ref.RepoURL, "/") + "\x00" + ref.Name + "\x00" + ref.Version))
	return filepath.Join(c.Dir, "refs", hex.EncodeToString(sum[:]))
}

// refCached returns the chart an earlier Pull of ref cached, if any.
func (c *Cache) refCached(ref manifest.ChartRef) (string, bool) {
	return c.readPointer(c.refPointer(ref))
}

// refRemember records that ref pulled Dir/sha256/name.
func (c *Cache) refRemember(ref manifest.ChartRef, name string) error {
	if c.Dir == "" {
		return nil
	}
	return writePointer(c.refPointer(ref), name)
}

// readPointer returns the chart the pointer at ptr names, if it is cached.
func (c *Cache) readPointer(ptr string) (string, bool) {
	if c.Dir == "" {
		return "", false
	}
	name, err := os.ReadFile(ptr)
	if err != nil {
		return "", false
	}
	base := strings.TrimSpace(string(name))
	if base == "" || base != filepath.Base(base) || base[0] == '.' {
		return "", false
	}
	p := filepath.Join(c.Dir, "sha256", base)
	return p, exists(p)
}

// writePointer writes, atomically, the pointer at ptr naming the chart
// Dir/sha256/name.
func writePointer(ptr, name string) error {
	if err := os.MkdirAll(filepath.Dir(ptr), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(ptr), ".ptr-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(name + "\n"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), ptr)
}
