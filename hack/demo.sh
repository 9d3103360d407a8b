#!/usr/bin/env bash
# demo.sh runs the quickstart on a local control plane (see hack/demo/main.go).
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./hack/demo "$@"
