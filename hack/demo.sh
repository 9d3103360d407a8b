#!/usr/bin/env bash
# demo.sh runs the quickstart on a local control plane (see hack/demo/main.go):
# apply, then `digitops serve` with its status page, until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/demo ./hack/demo
exec bin/demo "$@"
