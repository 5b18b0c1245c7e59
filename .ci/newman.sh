#!/usr/bin/env bash
# Run the Postman collection (postman/) with newman against a fresh
# `accountpw serve` on the embedded default: folder 1 requests a reset, the
# link is read from the log mailer's line, folder 2 completes the reset with
# it, and folder 3 changes the password with a bearer issued afterwards.
set -euo pipefail
source "$(dirname "$0")/serve.sh"

EMAIL=newman@example.org
PASSWORD='velvet orbit copper lantern'
NEW_PASSWORD='quartz meadow tundra violin'

clients_install
serve_start newman
USER_ID=$(printf '%s\n' "$PASSWORD" | apw users create --email "$EMAIL" --password-stdin | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).id))')

newman() {
  "$CLIENTS/node_modules/.bin/newman" run "$ROOT/postman/accountpw.postman_collection.json" \
    --environment "$ROOT/postman/accountpw.postman_environment.json" \
    --env-var "baseUrl=$BASE_URL" --env-var "email=$EMAIL" \
    --env-var "password=$PASSWORD" --env-var "newPassword=$NEW_PASSWORD" \
    --color off --disable-unicode --bail "$@"
}

before=$(reset_mail_count "$EMAIL")
newman --folder '1 Request reset'
TOKEN=$(wait_reset_token "$EMAIL" "$before")

newman --folder '2 Complete reset' --env-var "resetToken=$TOKEN"

# After the reset: a reset ends every earlier session, so mint the bearer now.
BEARER=$(apw token --user-id "$USER_ID")
newman --folder '3 Change password' --env-var "bearer=$BEARER"
echo "newman: all folders passed"
