#!/usr/bin/env bash
# Install syft (SBOM generator, https://github.com/anchore/syft) into /usr/local/bin.
#   usage: install_syft.sh <version>
# With SYFT_SHA256 set, the archive must have exactly that digest (pin it for production: a
# checksum file from the same release guards against corruption, not against a replaced release).
set -euo pipefail

version=$1
archive="syft_${version}_linux_amd64.tar.gz"
base="https://github.com/anchore/syft/releases/download/v${version}"
workdir=$(mktemp -d)

curl --silent --show-error --fail --location --retry 3 --output "${workdir}/${archive}" "${base}/${archive}"
if [[ -n "${SYFT_SHA256:-}" ]]; then
  echo "${SYFT_SHA256}  ${workdir}/${archive}" | sha256sum --check --strict -
else
  curl --silent --show-error --fail --location --retry 3 \
    --output "${workdir}/checksums.txt" "${base}/syft_${version}_checksums.txt"
  (cd "$workdir" && grep " ${archive}\$" checksums.txt | sha256sum --check --strict -)
fi
tar -xzf "${workdir}/${archive}" -C /usr/local/bin syft
syft version
