// Package release builds what a digitops release ships, without Docker: the
// static binaries for each platform (named as examples/ci downloads them,
// digitops-OS-ARCH), a SHA-256 checksums file, an SPDX SBOM read from the
// binary's own build information, and the container image as an OCI image
// layout (one image per Linux platform, in one index) plus a `docker
// load`-able tarball per platform, made with go-containerregistry.
//
// The image holds what the Dockerfile's does: the binary at
// /usr/local/bin/digitops, CA certificates, a passwd and group entry for the
// non-root user 65532 (nonroot), entrypoint digitops, command serve, port
// 8080, and the OCI labels source, revision and version.
//
// hack/release is its command (make dist, make image).
package release
