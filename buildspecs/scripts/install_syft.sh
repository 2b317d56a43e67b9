#!/usr/bin/env bash
# Install syft (SBOM generator, https://github.com/anchore/syft) into SYFT_INSTALL_DIR
# (default /usr/local/bin).
#   usage: SYFT_SHA256=<sha256 of the linux amd64 archive> install_syft.sh <version>
# The archive must have exactly the pinned digest: a checksum file fetched from the same release
# page guards against a corrupted download, not against a replaced release, so there is no
# fallback to it. buildspecs/image-gate.yml pins both the version and the digest.
set -euo pipefail

version=${1:?usage: SYFT_SHA256=<sha256> install_syft.sh <version>}
if [[ ! "${SYFT_SHA256:-}" =~ ^[0-9a-f]{64}$ ]]; then
  echo "install_syft.sh: SYFT_SHA256 must be the 64-hex sha256 of syft_${version}_linux_amd64.tar.gz" >&2
  exit 1
fi
install_dir=${SYFT_INSTALL_DIR:-/usr/local/bin}
archive="syft_${version}_linux_amd64.tar.gz"
workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT

curl --silent --show-error --fail --location --retry 3 --output "${workdir}/${archive}" \
  "https://github.com/anchore/syft/releases/download/v${version}/${archive}"
echo "${SYFT_SHA256}  ${workdir}/${archive}" | sha256sum --check --strict -
tar -xzf "${workdir}/${archive}" -C "$install_dir" syft
"${install_dir}/syft" version
