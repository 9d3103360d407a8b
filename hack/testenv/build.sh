#!/usr/bin/env bash
# build.sh builds the test control plane from the Go module proxy into a cache
# directory keyed by the versions, and prints that directory.
#
#   hack/testenv/build.sh            kube-apiserver, etcd, kubectl
#   hack/testenv/build.sh --extras   also kube-controller-manager, kube-scheduler,
#                                    kwok and its stages config (for readiness)
#
# Idempotent: binaries already in the cache are reused (a cached run takes well
# under a second). DIGITOPS_TESTENV_DIR overrides the cache root.
set -euo pipefail

K8S_VERSION=v1.37.2
# go.mod pins etcd v3.7.0, but k8s.io/kubernetes v1.37.2 requires v3.7.3, which
# is what Go builds (checked below): the cache key says what is built.
ETCD_VERSION=v3.7.3
KWOK_VERSION=v0.8.0

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${DIGITOPS_TESTENV_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/digitops/testenv}"
dir="$root/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"
extras=false
for arg in "$@"; do
	case "$arg" in
	--extras) extras=true ;;
	-h | --help) sed -n '2,10p' "${BASH_SOURCE[0]}"; exit 0 ;;
	*) echo "build.sh: unknown argument $arg" >&2; exit 2 ;;
	esac
done
mkdir -p "$dir"
if [[ ! -x "$dir/etcd" ]]; then
	resolved="$(cd "$here" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)"
	if [[ "$resolved" != "$ETCD_VERSION" ]]; then
		echo "build.sh: go.mod resolves etcd $resolved, the cache key says $ETCD_VERSION: fix ETCD_VERSION" >&2
		exit 1
	fi
fi

ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 -X k8s.io/component-base/version.gitTreeState=clean"

build() { # build NAME PACKAGE
	local name=$1 pkg=$2
	[[ -x "$dir/$name" ]] && return 0
	local start=$SECONDS
	echo "testenv: building $name ($pkg) into $dir; kube-apiserver takes ~5-10 minutes on 2 cores" >&2
	(cd "$here" && CGO_ENABLED=0 go build -ldflags "$ldflags" -o "$dir/$name.tmp" "$pkg")
	mv "$dir/$name.tmp" "$dir/$name"
	echo "testenv: built $name in $((SECONDS - start))s (total $((SECONDS))s)" >&2
}

build etcd go.etcd.io/etcd/server/v3
build kubectl k8s.io/kubernetes/cmd/kubectl
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
if $extras; then
	build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
	build kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler
	if [[ ! -x "$dir/kwok" ]]; then
		echo "testenv: building kwok $KWOK_VERSION (total ${SECONDS}s so far)" >&2
		(cd "$dir" && GOBIN="$dir/.gobin" GOFLAGS=-mod=mod go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION")
		mv "$dir/.gobin/kwok" "$dir/kwok" && rmdir "$dir/.gobin"
	fi
	if [[ ! -f "$dir/kwok-stages.yaml" ]]; then
		src="$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage"
		: >"$dir/kwok-stages.yaml.tmp"
		for f in "$src"/node/fast/*.yaml "$src"/pod/fast/*.yaml; do
			{ echo "---"; cat "$f"; } >>"$dir/kwok-stages.yaml.tmp"
		done
		mv "$dir/kwok-stages.yaml.tmp" "$dir/kwok-stages.yaml"
	fi
fi
echo "$dir"
