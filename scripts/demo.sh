#!/usr/bin/env bash
# One command on a fresh machine: install what is missing, then run the demo end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node scripts/demo.mjs
