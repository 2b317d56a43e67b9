#!/usr/bin/env bash
# Make <repository-uri>:<commit-tag> exist in ECR, building the image only when needed.
#   usage: publish_image.sh <repository-uri> <service> <tree-tag> <commit-tag>
# The tree tag names the content of the service's inputs (tree_hash.sh). When ECR already holds
# an image with that tag, the image gets the commit tag as well: put-image with its manifest, so
# no layer moves and nothing is built. Otherwise BuildKit builds services/Dockerfile for it
# with services/ as the context, against a registry cache kept in the same repository, and
# pushes both tags. Run from the repository root, after `docker login` to the registry.
# Optional environment (set by the build project, docs/pipeline.md):
#   ECR_PUBLIC_CACHE  <registry>/<prefix> of an ECR pull-through cache for public.ecr.aws: the
#                     Dockerfile's default `ARG BASE_IMAGE=public.ecr.aws/...` is pulled through it
#   BUILDKIT_IMAGE    the BuildKit image of the docker-container builder (else buildx's default,
#                     moby/buildkit from Docker Hub)
set -euo pipefail

repository_uri=$1
service=$2
tree_tag=$3
commit_tag=$4
repository_name=${repository_uri#*/}

# Exit status 0 when the tag is in the repository, 1 when it is not; any other error (access
# denied, throttling) stops the build rather than passing for "not found" and rebuilding.
image_exists() {
  local output
  if output=$(aws ecr describe-images --repository-name "$repository_name" \
    --image-ids "imageTag=$1" --output json 2>&1); then
    return 0
  fi
  if grep -q ImageNotFoundException <<<"$output"; then
    return 1
  fi
  echo "$output" >&2
  exit 1
}

retag() {
  local manifest media_type
  manifest=$(aws ecr batch-get-image --repository-name "$repository_name" \
    --image-ids "imageTag=$tree_tag" --query 'images[0].imageManifest' --output text)
  media_type=$(aws ecr batch-get-image --repository-name "$repository_name" \
    --image-ids "imageTag=$tree_tag" --query 'images[0].imageManifestMediaType' --output text)
  aws ecr put-image --repository-name "$repository_name" --image-tag "$commit_tag" \
    --image-manifest "$manifest" --image-manifest-media-type "$media_type" >/dev/null
}

# --build-arg BASE_IMAGE=<cache>/<path> when the Dockerfile's default base is on ECR Public and a
# cache is configured: the same image, pulled with the build's ECR credentials instead of
# anonymously. The Dockerfile stays the one place that names (and pins) the base image.
base_image_args() {
  local default
  default=$(sed -n 's/^ARG BASE_IMAGE=//p' services/Dockerfile | head -n 1)
  if [[ -n "${ECR_PUBLIC_CACHE:-}" && "$default" == public.ecr.aws/* ]]; then
    printf '%s\n' --build-arg "BASE_IMAGE=${ECR_PUBLIC_CACHE}/${default#public.ecr.aws/}"
  fi
}

build_and_push() {
  local builder_opts=() build_args=()
  if [[ -n "${BUILDKIT_IMAGE:-}" ]]; then
    builder_opts=(--driver-opt "image=${BUILDKIT_IMAGE}")
  fi
  mapfile -t build_args < <(base_image_args)
  # The default docker driver cannot export a registry cache; a docker-container builder can.
  docker buildx create --name service-builder --driver docker-container "${builder_opts[@]}" --use
  # image-manifest=true and oci-mediatypes=true: ECR rejects BuildKit's default cache index.
  # --provenance=false keeps a single-platform manifest, so put-image can retag it later.
  docker buildx build \
    --file services/Dockerfile \
    --build-arg "SERVICE=${service}" \
    "${build_args[@]}" \
    --tag "${repository_uri}:${commit_tag}" \
    --tag "${repository_uri}:${tree_tag}" \
    --cache-from "type=registry,ref=${repository_uri}:buildcache" \
    --cache-to "type=registry,ref=${repository_uri}:buildcache,mode=max,image-manifest=true,oci-mediatypes=true" \
    --provenance=false \
    --push \
    services/
}

if image_exists "$commit_tag"; then
  echo "${service}: ${repository_uri}:${commit_tag} is already published (a re-run); nothing to do"
elif image_exists "$tree_tag"; then
  echo "${service}: inputs unchanged since ${tree_tag}; reusing that image as ${commit_tag}"
  retag
else
  echo "${service}: no image for ${tree_tag}; building"
  build_and_push
fi
