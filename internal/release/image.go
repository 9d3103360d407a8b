package release

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Image contents and metadata, the same as the Dockerfile's.
const (
	// BinaryPath is where the binary is in the image.
	BinaryPath = "/usr/local/bin/digitops"
	// User is the non-root user the image runs as.
	User = "65532:65532"
	// Source is the repository the OCI source label names.
	Source = "https://github.com/digitops/digitops"
)

// ImageOptions say what goes in the image.
type ImageOptions struct {
	// Binaries are the Linux binaries, by platform.
	Binaries map[Platform]string
	// CACertificates is a PEM bundle copied to
	// /etc/ssl/certs/ca-certificates.crt.
	CACertificates string
	// Version and Revision go into the OCI labels.
	Version, Revision string
	// Created is the images' creation time (the commit's, for a
	// reproducible image).
	Created time.Time
	// Layout is the directory of the OCI image layout written.
	Layout string
	// Tarballs, when set, is the directory of the `docker load`-able
	// tarballs, one per platform (digitops-VERSION-linux-ARCH.tar).
	Tarballs string
	// Tag is the tag the tarballs load as; "digitops:VERSION" when empty.
	Tag string
}

// BuildImage writes an OCI image layout whose index holds one image per
// platform, and the docker tarballs.
func BuildImage(opts ImageOptions) error {
	certs, err := os.ReadFile(opts.CACertificates)
	if err != nil {
		return fmt.Errorf("unable to read CA certificates: %w", err)
	}
	tag := opts.Tag
	if tag == "" {
		tag = "digitops:" + opts.Version
	}
	ref, err := name.NewTag(tag)
	if err != nil {
		return err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range sortedPlatforms(opts.Binaries) {
		if p.OS != "linux" {
			continue
		}
		img, err := platformImage(p, opts.Binaries[p], certs, opts)
		if err != nil {
			return fmt.Errorf("image for %s: %w", p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add: img,
			Descriptor: v1.Descriptor{
				Platform:    &v1.Platform{OS: p.OS, Architecture: p.Arch},
				Annotations: map[string]string{"org.opencontainers.image.ref.name": opts.Version},
			},
		})
		if opts.Tarballs != "" {
			if err := os.MkdirAll(opts.Tarballs, 0o755); err != nil {
				return err
			}
			path := filepath.Join(opts.Tarballs, fmt.Sprintf("digitops-%s-%s-%s.tar", opts.Version, p.OS, p.Arch))
			if err := tarball.WriteToFile(path, ref, img); err != nil {
				return fmt.Errorf("unable to write %s: %w", path, err)
			}
		}
	}
	if err := os.RemoveAll(opts.Layout); err != nil {
		return err
	}
	if _, err := layout.Write(opts.Layout, idx); err != nil {
		return fmt.Errorf("unable to write the image layout %s: %w", opts.Layout, err)
	}
	return nil
}

// platformImage is one platform's image: a single layer with the binary,
// the certificates and the user, on nothing.
func platformImage(p Platform, binary string, certs []byte, opts ImageOptions) (v1.Image, error) {
	bin, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	layerTar, err := rootfs(bin, certs, opts.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	cfg := &v1.ConfigFile{
		Architecture: p.Arch,
		OS:           p.OS,
		Created:      v1.Time{Time: opts.Created},
		Config: v1.Config{
			User:         User,
			Entrypoint:   []string{BinaryPath},
			Cmd:          []string{"serve"},
			WorkingDir:   "/home/nonroot",
			Env:          []string{"PATH=/usr/local/bin:/usr/bin:/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt", "HOME=/home/nonroot"},
			ExposedPorts: map[string]struct{}{"8080/tcp": {}},
			Labels: map[string]string{
				"org.opencontainers.image.source":   Source,
				"org.opencontainers.image.revision": opts.Revision,
				"org.opencontainers.image.version":  opts.Version,
				"org.opencontainers.image.title":    "digitops",
				"org.opencontainers.image.licenses": "Apache-2.0",
			},
		},
	}
	img, err := mutate.ConfigFile(empty.Image, cfg)
	if err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{Created: v1.Time{Time: opts.Created}, CreatedBy: "digitops internal/release", Comment: "digitops " + opts.Version}})
	if err != nil {
		return nil, err
	}
	return img, nil
}

// rootfs is the image's one layer, as a tar.
func rootfs(binary, certs []byte, mod time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(path string, mode int64, uid int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: path, Mode: mode, Uid: uid, Gid: uid, ModTime: mod})
	}
	file := func(path string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: path, Mode: mode, Size: int64(len(data)), ModTime: mod}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	steps := []func() error{
		func() error { return dir("etc/", 0o755, 0) },
		func() error {
			return file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"))
		},
		func() error { return file("etc/group", 0o644, []byte("root:x:0:\nnonroot:x:65532:\n")) },
		func() error { return dir("etc/ssl/", 0o755, 0) },
		func() error { return dir("etc/ssl/certs/", 0o755, 0) },
		func() error { return file("etc/ssl/certs/ca-certificates.crt", 0o644, certs) },
		func() error { return dir("home/", 0o755, 0) },
		func() error { return dir("home/nonroot/", 0o700, 65532) },
		func() error { return dir("tmp/", 0o1777, 0) },
		func() error { return dir("usr/", 0o755, 0) },
		func() error { return dir("usr/local/", 0o755, 0) },
		func() error { return dir("usr/local/bin/", 0o755, 0) },
		func() error { return file(BinaryPath[1:], 0o755, binary) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sortedPlatforms(m map[Platform]string) []Platform {
	out := make([]Platform, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j].String() < out[i].String() {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
