#!/bin/sh
# The Jenkins deploy job, with digitops: what `go run main.go deploy -e ENV
# IMAGES` did, as commit-to-deploy. Parameters (Jenkins job parameters or
# environment variables):
#
#   ENV       the environment, e.g. egov-demo
#   IMAGES    comma-separated NAME:TAG, e.g. egov-user:v2.9.3-4a1b2c3,pgr-services:v2.9.1-77aa0b2
#   ENV_REPO  the environment repository, e.g. https://github.com/egovernments/DIGIT-DevOps.git
#   MODE      set-image (commit and push, the daemon deploys; default),
#             apply (set the image, then apply from this job), or plan
#
# Credentials: DIGITOPS_GIT_USERNAME/DIGITOPS_GIT_PASSWORD (or
# DIGITOPS_GIT_SSH_KEY_FILE + DIGITOPS_GIT_KNOWN_HOSTS_FILE) for the push,
# KUBECONFIG for plan/apply, SOPS_AGE_KEY_FILE for SOPS secrets.
set -eu

: "${ENV:?set ENV}" "${ENV_REPO:?set ENV_REPO}"
MODE="${MODE:-set-image}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

git clone --depth 50 "$ENV_REPO" "$WORK/envs"

case "$MODE" in
plan)
  # Exit code 2 means "changes", which is not a failure here.
  digitops plan --repo "$WORK/envs" --env "$ENV" --detailed-exitcode || [ $? -eq 2 ]
  ;;
set-image | apply)
  : "${IMAGES:?set IMAGES}"
  # shellcheck disable=SC2086 # IMAGES is split on commas into arguments
  digitops set-image --repo "$WORK/envs" "$ENV" $(echo "$IMAGES" | tr ',' ' ')
  if [ "$MODE" = apply ]; then
    # No prompt without a terminal; --yes makes that explicit.
    digitops apply --repo "$WORK/envs" --env "$ENV" --yes
  fi
  ;;
*)
  echo "unknown MODE $MODE: use plan, set-image or apply" >&2
  exit 1
  ;;
esac
