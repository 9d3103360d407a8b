#!/usr/bin/env bash
# Builds the benchmark's peer tools from the Go module proxy, at pinned
# versions, into the testenv cache (never into the repository):
#   helm v3.22.0 (the CLI helmfile drives and DIGIT's deployer calls)
#   helmfile v1.8.0
# kubectl comes from the testenv cache (hack/testenv/build.sh).
# Prints the peers directory. Idempotent: a tool already built is kept.
set -euo pipefail

HELM_VERSION=v3.22.0
HELMFILE_VERSION=v1.8.0

root="${DIGITOPS_TESTENV_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/digitops/testenv}"
dir="$root/peers"
mkdir -p "$dir/helm-$HELM_VERSION" "$dir/helmfile-$HELMFILE_VERSION"

if [[ ! -x "$dir/helm-$HELM_VERSION/helm" ]]; then
	echo "building helm $HELM_VERSION (a few minutes on 2 cores)" >&2
	GOBIN="$dir/helm-$HELM_VERSION" CGO_ENABLED=0 go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION >&2
fi

if [[ ! -x "$dir/helmfile-$HELMFILE_VERSION/helmfile" ]]; then
	echo "building helmfile $HELMFILE_VERSION (a few minutes on 2 cores)" >&2
	# helmfile's go.mod has replace directives, which `go install m@v`
	# refuses; build it inside its own module directory instead, so that its
	# own go.mod (and replaces) apply. Nothing of ours goes into the build.
	src="$(go mod download -json "github.com/helmfile/helmfile@$HELMFILE_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
	(cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$dir/helmfile-$HELMFILE_VERSION/helmfile" .) >&2
fi
echo "$dir"
