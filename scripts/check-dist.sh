#!/usr/bin/env bash
# Rebuilds dist/ and fails when it differs from what is committed (the runner executes dist/).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build >/dev/null
if [ -n "$(git status --porcelain -- dist)" ]; then
  echo "dist/ does not match the sources: run 'npm run build' and commit dist/" >&2
  git status --porcelain -- dist >&2
  git diff --stat -- dist >&2
  exit 1
fi
echo "dist/ is up to date"
