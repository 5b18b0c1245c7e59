#!/usr/bin/env bash
# Drive the built-in reset page in Debian's chromium (playwright-core) against
# a fresh `accountpw serve` (with a product name and a sign-in page): request
# a reset, open the emailed link, and walk every state (.ci/browser/test.mjs).
# Screenshots go to .ci/artifacts/.
set -euo pipefail
source "$(dirname "$0")/serve.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
"$CHROMIUM" --version 2>/dev/null

EMAIL=browser@example.org
PRODUCT='Acme Cloud'
# Where the page's link leads after a successful reset: nothing listens
# there; the test answers that navigation itself.
SIGN_IN_URL='http://127.0.0.1:9/sign-in?from=reset'
SERVE_ENV=("ACCOUNTPW_MAIL_PRODUCT_NAME=$PRODUCT" "ACCOUNTPW_RESET_SIGN_IN_URL=$SIGN_IN_URL")
clients_install
serve_start browser
printf '%s\n' 'velvet orbit copper lantern' | apw users create --email "$EMAIL" --password-stdin >/dev/null
rm -f "$ARTIFACTS"/browser-*.png

BASE_URL="$BASE_URL" SERVE_LOG="$SERVE_LOG" EMAIL="$EMAIL" ARTIFACTS="$ARTIFACTS" CHROMIUM="$CHROMIUM" \
  PRODUCT="$PRODUCT" SIGN_IN_URL="$SIGN_IN_URL" \
  node "$CLIENTS/test.mjs"
