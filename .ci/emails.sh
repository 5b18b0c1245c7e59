#!/usr/bin/env bash
# Render the golden emails (services/mail/testdata/golden/*.html) in Debian's
# chromium with playwright-core at 390 and 700 px, light and dark: fail on a
# horizontal overflow, a missing or cut-off button or link, text below 4.5:1
# contrast, or anything fetched (.ci/browser/emails.mjs). Screenshots go to
# .ci/artifacts/email-*.png. No server is needed: the golden files are what
# `go test ./services/mail` checks the renderer against.
set -euo pipefail
source "$(dirname "$0")/serve.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

clients_install
rm -f "$ARTIFACTS"/email-*.png
GOLDEN="$ROOT/services/mail/testdata/golden" ARTIFACTS="$ARTIFACTS" CHROMIUM="$CHROMIUM" \
  node "$CLIENTS/emails.mjs"
