#!/usr/bin/env bash
# Installs everything the demo and the tests need on a fresh Debian machine: the CNCF
# distribution registry, skopeo and oci-image-tool (apt, when missing), and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v skopeo >/dev/null || missing+=(skopeo)
command -v oci-image-tool >/dev/null || missing+=(oci-image-tool)
command -v openssl >/dev/null || missing+=(openssl)
if ((${#missing[@]})); then
  echo "installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian package may start a registry on :5000; the tests start their own, so it is not needed.
if [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  :
else
  npm ci --no-audit --no-fund
fi
