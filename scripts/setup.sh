#!/usr/bin/env bash
# Installs everything the demo and the tests need on a fresh Debian machine: the CNCF
# distribution registry, skopeo, oci-image-tool, and buildah and umoci, which write some of the
# layouts the tests read (apt, when missing), and the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

# The code and the tests need Node 20 or later (the runner's node20; tested on 20 and 24).
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "Node 20 or later is needed (found: $(node --version 2>/dev/null || echo none)); install it from https://nodejs.org or with nvm: nvm install 20" >&2
  exit 1
fi

missing=()
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v skopeo >/dev/null || missing+=(skopeo)
command -v oci-image-tool >/dev/null || missing+=(oci-image-tool)
command -v openssl >/dev/null || missing+=(openssl)
command -v buildah >/dev/null || missing+=(buildah)
command -v umoci >/dev/null || missing+=(umoci)
if ((${#missing[@]})); then
  echo "installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian package may start a registry on :5000; the tests start their own, so it is not needed.
# Reinstall when the lock file's content differs from what was installed (not its mtime: a
# checkout or a copy changes mtimes without changing what is locked).
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -d node_modules ] && [ "$(cat node_modules/.lock-sha256 2>/dev/null)" = "$lock_sum" ]; then
  :
else
  npm ci --no-audit --no-fund
  echo "$lock_sum" >node_modules/.lock-sha256
fi
