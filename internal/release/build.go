package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Platform is a GOOS/GOARCH pair.
type Platform struct{ OS, Arch string }

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// ParsePlatform reads "linux/amd64".
func ParsePlatform(s string) (Platform, error) {
	os, arch, ok := strings.Cut(s, "/")
	if !ok || os == "" || arch == "" {
		return Platform{}, fmt.Errorf("invalid platform %q: want OS/ARCH, e.g. linux/amd64", s)
	}
	return Platform{OS: os, Arch: arch}, nil
}

// DefaultPlatforms are the platforms of a release.
func DefaultPlatforms() []Platform {
	return []Platform{{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "amd64"}, {"darwin", "arm64"}}
}

// BinaryName is the file name of a platform's binary, as examples/ci
// downloads it.
func BinaryName(p Platform) string { return "digitops-" + p.OS + "-" + p.Arch }

// BuildOptions say what to build.
type BuildOptions struct {
	// Module is the directory of the digitops module (where go.mod is).
	Module string
	// Out is the directory the binaries are written to.
	Out string
	// Version is stamped into the binaries (main.version).
	Version string
	// Platforms to build.
	Platforms []Platform
	// Log, when set, receives a line per binary.
	Log io.Writer
}

// BuildBinaries builds a static, stripped digitops for each platform, with
// the version and the build's VCS information stamped, and returns their
// paths by platform.
func BuildBinaries(ctx context.Context, opts BuildOptions) (map[Platform]string, error) {
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, err
	}
	out := map[Platform]string{}
	for _, p := range opts.Platforms {
		path, err := filepath.Abs(filepath.Join(opts.Out, BinaryName(p)))
		if err != nil {
			return nil, err
		}
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, "release: building %s\n", BinaryName(p))
		}
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=auto",
			"-ldflags", "-s -w -X main.version="+opts.Version, "-o", path, "./cmd/digitops")
		cmd.Dir = opts.Module
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("unable to build %s: %w\n%s", BinaryName(p), err, msg)
		}
		out[p] = path
	}
	return out, nil
}

// WriteChecksums writes path as sha256sum would (`HASH  NAME`, sorted by
// name) for files, which are named by their base name.
func WriteChecksums(path string, files []string) error {
	sorted := append([]string(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return filepath.Base(sorted[i]) < filepath.Base(sorted[j]) })
	var b strings.Builder
	for _, f := range sorted {
		sum, err := fileSHA256(f)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, filepath.Base(f))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("unable to read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
