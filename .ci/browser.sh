#!/usr/bin/env bash
# Drive the built-in reset page in Debian's chromium (playwright-core) against
# a fresh `accountpw serve`: request a reset, open the emailed link, and walk
# every state (.ci/browser/test.mjs). Screenshots go to .ci/artifacts/.
set -euo pipefail
source "$(dirname "$0")/serve.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
"$CHROMIUM" --version 2>/dev/null

EMAIL=browser@example.org
clients_install
serve_start browser
printf '%s\n' 'velvet orbit copper lantern' | apw users create --email "$EMAIL" --password-stdin >/dev/null
rm -f "$ARTIFACTS"/browser-*.png

BASE_URL="$BASE_URL" SERVE_LOG="$SERVE_LOG" EMAIL="$EMAIL" ARTIFACTS="$ARTIFACTS" CHROMIUM="$CHROMIUM" \
  node "$CLIENTS/test.mjs"
