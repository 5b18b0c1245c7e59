#!/usr/bin/env bash
# `npm test` of the TypeScript client (clients/typescript): the generated
# types must match openapi.yaml, the package must build and type-check, its
# browser bundle must stay within 4 KB gzipped, and its tests must pass
# against a fresh `accountpw serve` in node and in Debian's chromium
# (playwright-core). npm ci runs only when the lockfile changed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PKG="$ROOT/clients/typescript"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
export CHROMIUM

cd "$PKG"
if [ ! -x node_modules/.bin/tsc ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error --prefer-offline
fi
npm test
