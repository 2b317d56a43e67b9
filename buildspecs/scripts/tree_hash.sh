#!/usr/bin/env bash
# Print a content hash of one service's image inputs (docs/contracts.md, "Images"):
# services/<service>/, services/service_kit/ and services/Dockerfile (shared by every service),
# plus services/.dockerignore when there is one, since it shapes the build context too.
#   usage: tree_hash.sh <service>
# Git tree ids already hash every file below a folder, so the same output means the same inputs,
# whichever commit, branch or revert produced them. Run from the repository root.
set -euo pipefail

service=$1

{
  git rev-parse "HEAD:services/${service}"
  git rev-parse "HEAD:services/service_kit"
  git rev-parse "HEAD:services/Dockerfile"
  git rev-parse --verify --quiet "HEAD:services/.dockerignore" || true
} | sha256sum | cut -c1-24
