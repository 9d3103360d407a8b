// Command release builds release artifacts without Docker (see
// internal/release):
//
//	go run ./hack/release dist  -version V -out dist   binaries, checksums.txt, digitops.spdx.json
//	go run ./hack/release image -version V -out dist   dist/image/oci (OCI layout) and dist/image/*.tar
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/digitops/digitops/internal/release"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) < 2 || (os.Args[1] != "dist" && os.Args[1] != "image") {
		return fmt.Errorf("usage: release dist|image [-version V] [-out DIR] [-platforms linux/amd64,...]")
	}
	what := os.Args[1]
	fs := flag.NewFlagSet(what, flag.ContinueOnError)
	version := fs.String("version", "dev", "version stamped into the binaries and the image")
	out := fs.String("out", "dist", "output directory")
	platforms := fs.String("platforms", "", "OS/ARCH list (default: linux and darwin, amd64 and arm64; the image uses the Linux ones)")
	certs := fs.String("ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "CA bundle copied into the image")
	if err := fs.Parse(os.Args[2:]); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ps := release.DefaultPlatforms()
	if *platforms != "" {
		ps = nil
		for _, s := range strings.Split(*platforms, ",") {
			p, err := release.ParsePlatform(strings.TrimSpace(s))
			if err != nil {
				return err
			}
			ps = append(ps, p)
		}
	}
	if what == "image" {
		var linux []release.Platform
		for _, p := range ps {
			if p.OS == "linux" {
				linux = append(linux, p)
			}
		}
		ps = linux
	}
	bins, err := release.BuildBinaries(ctx, release.BuildOptions{Module: ".", Out: *out, Version: *version, Platforms: ps, Log: os.Stderr})
	if err != nil {
		return err
	}
	if what == "dist" {
		var files []string
		for _, p := range ps {
			files = append(files, bins[p])
		}
		sbom := filepath.Join(*out, "digitops.spdx.json")
		if err := release.WriteSBOM(sbom, bins[ps[0]], *version); err != nil {
			return err
		}
		if err := release.WriteChecksums(filepath.Join(*out, "checksums.txt"), append(files, sbom)); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "release: wrote %d binaries, checksums.txt and digitops.spdx.json to %s\n", len(files), *out)
		return nil
	}
	revision, created := gitHead(ctx)
	opts := release.ImageOptions{Binaries: bins, CACertificates: *certs, Version: *version, Revision: revision, Created: created,
		Layout: filepath.Join(*out, "image", "oci"), Tarballs: filepath.Join(*out, "image")}
	if err := release.BuildImage(opts); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "release: wrote the OCI layout %s and docker tarballs in %s (docker load -i ...)\n", opts.Layout, opts.Tarballs)
	return nil
}

// gitHead is the commit being built and its time (for a reproducible
// image); unknown and now outside a Git checkout.
func gitHead(ctx context.Context) (string, time.Time) {
	out, err := exec.CommandContext(ctx, "git", "log", "-1", "--format=%H %cI").Output()
	if err != nil {
		return "unknown", time.Now().UTC()
	}
	rev, when, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	t, err := time.Parse(time.RFC3339, when)
	if err != nil {
		t = time.Now()
	}
	return rev, t.UTC()
}
