package release_test

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/digitops/digitops/internal/release"
)

// hostBinary builds digitops for this machine, as make dist does.
func hostBinary(t *testing.T) (release.Platform, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds digitops: not with -short")
	}
	// make test builds bin/digitops first with the same flags, so this is
	// mostly a link; alone and cold it compiles everything (~10 minutes on 2
	// cores).
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	p := release.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH}
	bins, err := release.BuildBinaries(ctx, release.BuildOptions{Module: "../..", Out: t.TempDir(), Version: "v0.0.0-test", Platforms: []release.Platform{p}})
	if err != nil {
		t.Fatal(err)
	}
	return p, bins[p]
}

// TestImage builds the image of this machine's platform without Docker,
// reads the OCI layout and the docker tarball back, checks user,
// entrypoint and labels, and runs the binary taken out of the layer.
func TestImage(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the image is for Linux; this machine runs " + runtime.GOOS)
	}
	p, bin := hostBinary(t)
	dir := t.TempDir()
	certs := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(certs, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := release.ImageOptions{
		Binaries: map[release.Platform]string{p: bin}, CACertificates: certs,
		Version: "v0.0.0-test", Revision: "0123456789abcdef", Created: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		Layout: filepath.Join(dir, "oci"), Tarballs: filepath.Join(dir, "tar"),
	}
	if err := release.BuildImage(opts); err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(opts.Layout)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Platform == nil || im.Manifests[0].Platform.Architecture != p.Arch || im.Manifests[0].Platform.OS != "linux" {
		t.Fatalf("index manifests: %+v", im.Manifests)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Config
	if c.User != "65532:65532" || !slices.Equal(c.Entrypoint, []string{"/usr/local/bin/digitops"}) || !slices.Equal(c.Cmd, []string{"serve"}) {
		t.Errorf("config: user %q, entrypoint %v, cmd %v", c.User, c.Entrypoint, c.Cmd)
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.source":   "https://github.com/digitops/digitops",
		"org.opencontainers.image.revision": "0123456789abcdef",
		"org.opencontainers.image.version":  "v0.0.0-test",
	} {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers (%v), want 1", len(layers), err)
	}
	files := readLayer(t, layers[0])
	if !strings.Contains(string(files["etc/passwd"]), "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd: %q", files["etc/passwd"])
	}
	if len(files["etc/ssl/certs/ca-certificates.crt"]) == 0 {
		t.Error("no CA certificates in the image")
	}
	extracted := filepath.Join(dir, "digitops-from-image")
	if err := os.WriteFile(extracted, files["usr/local/bin/digitops"], 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(extracted, "version").Output()
	if err != nil {
		t.Fatalf("the image's binary: %v", err)
	}
	if !strings.HasPrefix(string(out), "digitops v0.0.0-test (revision ") || !strings.Contains(string(out), "helm SDK:") {
		t.Errorf("the image's binary says:\n%s", out)
	}

	// The docker tarball holds the same image under its tag.
	tag, err := name.NewTag("digitops:v0.0.0-test")
	if err != nil {
		t.Fatal(err)
	}
	tb, err := tarball.ImageFromPath(filepath.Join(opts.Tarballs, "digitops-v0.0.0-test-linux-"+p.Arch+".tar"), &tag)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.ConfigName()
	if got, err := tb.ConfigName(); err != nil || got != want {
		t.Errorf("the tarball's config %v (%v), the layout's %v", got, err, want)
	}
}

func readLayer(t *testing.T, l interface{ Uncompressed() (io.ReadCloser, error) }) map[string][]byte {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = b
		}
	}
}

// TestChecksumsAndSBOM: the checksums file is sha256sum's format, and the
// SPDX SBOM lists the modules linked into the binary.
func TestChecksumsAndSBOM(t *testing.T) {
	_, bin := hostBinary(t)
	dir := t.TempDir()
	sums := filepath.Join(dir, "checksums.txt")
	if err := release.WriteChecksums(sums, []string{bin}); err != nil {
		t.Fatal(err)
	}
	line, _ := os.ReadFile(sums)
	if f := strings.Fields(string(line)); len(f) != 2 || len(f[0]) != 64 || f[1] != filepath.Base(bin) {
		t.Errorf("checksums: %q", line)
	}
	if _, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command("sha256sum", "--check", "checksums.txt")
		cmd.Dir = dir
		if err := os.Link(bin, filepath.Join(dir, filepath.Base(bin))); err != nil {
			t.Fatal(err)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum --check: %v\n%s", err, out)
		}
	}
	sbom := filepath.Join(dir, "digitops.spdx.json")
	if err := release.WriteSBOM(sbom, bin, "v0.0.0-test"); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SPDXVersion string `json:"spdxVersion"`
		Packages    []struct {
			Name         string `json:"name"`
			VersionInfo  string `json:"versionInfo"`
			ExternalRefs []struct {
				ReferenceLocator string `json:"referenceLocator"`
			} `json:"externalRefs"`
		} `json:"packages"`
		Relationships []struct{} `json:"relationships"`
	}
	b, _ := os.ReadFile(sbom)
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	versions := map[string]string{}
	for _, p := range doc.Packages {
		versions[p.Name] = p.VersionInfo
		if len(p.ExternalRefs) == 0 || !strings.HasPrefix(p.ExternalRefs[0].ReferenceLocator, "pkg:golang/") {
			t.Errorf("package %s has no purl", p.Name)
		}
	}
	if doc.SPDXVersion != "SPDX-2.3" || versions["github.com/digitops/digitops"] != "v0.0.0-test" || versions["helm.sh/helm/v3"] != "v3.22.0" || versions["k8s.io/client-go"] != "v0.37.2" || versions["go"] != runtime.Version() {
		t.Errorf("SBOM: %s, versions %v", doc.SPDXVersion, versions)
	}
	if len(doc.Relationships) != len(doc.Packages) {
		t.Errorf("%d relationships for %d packages", len(doc.Relationships), len(doc.Packages))
	}
}
