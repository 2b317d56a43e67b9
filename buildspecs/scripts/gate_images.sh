#!/usr/bin/env bash
# The image gate for each build output folder: scan verdict and SBOM per image.
#   usage: gate_images.sh <output-dir> [<build-output-dir>...]
# Without folders, every secondary artifact named *BuildOutput (CODEBUILD_SRC_DIR_<artifact>),
# so a new service only needs its build output added to the ImageGate action's inputs.
# Environment: ENVIRONMENT_SUFFIX (repositories are {service}-{suffix}), IMAGE_SCAN_FAIL_SEVERITY
# (CRITICAL, HIGH, MEDIUM, LOW or NONE). Run from the repository root.
set -euo pipefail

output_dir=$1
shift
if (( $# == 0 )); then
  for variable in $(compgen -v CODEBUILD_SRC_DIR_ | grep 'BuildOutput$' || true); do
    set -- "$@" "${!variable}"
  done
fi
if (( $# == 0 )); then
  echo "image gate: no build output to check" >&2
  exit 1
fi
mkdir -p "$output_dir"
: "${ENVIRONMENT_SUFFIX:?the project sets ENVIRONMENT_SUFFIX}" "${IMAGE_SCAN_FAIL_SEVERITY:?the project sets IMAGE_SCAN_FAIL_SEVERITY}"

# syft reads the images straight from ECR (no Docker daemon), with the build role's token.
registry_password=$(aws ecr get-login-password --region "$AWS_DEFAULT_REGION")
export SYFT_REGISTRY_AUTH_USERNAME=AWS SYFT_REGISTRY_AUTH_PASSWORD="$registry_password"

failed=()
for build_output in "$@"; do
  image_uri=$(python3 buildspecs/scripts/image_uri.py "${build_output}/imageDetail.json")
  # {registry}/{repository}@sha256:... as the build deploys it (or {repository}:{tag}).
  repository=${image_uri#*/}
  if [[ $repository == *@* ]]; then
    image_id="imageDigest=${repository#*@}"
    repository=${repository%%@*}
  else
    image_id="imageTag=${repository##*:}"
    repository=${repository%%:*}
  fi
  service=${repository%-"${ENVIRONMENT_SUFFIX}"}
  export SYFT_REGISTRY_AUTH_AUTHORITY=${image_uri%%/*}

  echo "== ${service}: ${image_uri}"
  # Scan on push is asynchronous; the waiter polls until COMPLETE (or fails on FAILED).
  # A failed or timed-out wait is judged below: the gate fails closed on a scan not COMPLETE.
  aws ecr wait image-scan-complete --repository-name "$repository" --image-id "$image_id" || true
  aws ecr describe-image-scan-findings --repository-name "$repository" \
    --image-id "$image_id" --output json > "${output_dir}/${service}-scan.json"
  if ! python3 buildspecs/scripts/image_gate.py \
    --findings "${output_dir}/${service}-scan.json" \
    --allowlist security/image-scan-allowlist.json \
    --fail-on "$IMAGE_SCAN_FAIL_SEVERITY" --service "$service" \
    > "${output_dir}/${service}-gate.txt" 2>&1; then
    failed+=("$service")
  fi
  cat "${output_dir}/${service}-gate.txt"
  syft scan "registry:${image_uri}" --quiet --output "spdx-json=${output_dir}/${service}.spdx.json"
done

if (( ${#failed[@]} )); then
  echo "image gate FAILED for: ${failed[*]}" >&2
  exit 1
fi
echo "image gate passed for every image"
