#!/usr/bin/env bash
# Run the Postman collection (postman/) with newman against a fresh
# `accountpw serve` on the embedded default: folder 1 requests a reset, the
# link is read from the log mailer's line, folder 2 completes the reset with
# it, folder 3 changes the password with a bearer issued afterwards, and
# folder 4 walks the admin API on its own listener with the API key.
# Then the whole collection runs once more without those two values, as a
# first "Run collection" in Postman would, and must say what is missing.
set -euo pipefail
source "$(dirname "$0")/serve.sh"

EMAIL=newman@example.org
PASSWORD='velvet orbit copper lantern'
NEW_PASSWORD='quartz meadow tundra violin'

clients_install
serve_start newman
USER_ID=$(printf '%s\n' "$PASSWORD" | apw users create --email "$EMAIL" --password-stdin | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).id))')

newman_run() {
  "$CLIENTS/node_modules/.bin/newman" run "$ROOT/postman/accountpw.postman_collection.json" \
    --environment "$ROOT/postman/accountpw.postman_environment.json" \
    --env-var "baseUrl=$BASE_URL" --env-var "email=$EMAIL" \
    --env-var "adminUrl=$ADMIN_URL" --env-var "adminKey=$ADMIN_KEY" \
    --env-var "password=$PASSWORD" --env-var "newPassword=$NEW_PASSWORD" \
    --color off --disable-unicode "$@"
}

newman() { newman_run --bail "$@"; }

before=$(reset_mail_count "$EMAIL")
newman --folder '1 Request reset'
TOKEN=$(wait_reset_token "$EMAIL" "$before")

newman --folder '2 Complete reset' --env-var "resetToken=$TOKEN"

# After the reset: a reset ends every earlier session, so mint the bearer now.
BEARER=$(apw token --user-id "$USER_ID")
newman --folder '3 Change password' --env-var "bearer=$BEARER"
newman --folder '4 Admin'
echo "newman: all folders passed"

# The whole collection at once, with resetToken and bearer empty, as a first
# "Run collection" in Postman does: every request that needs one of them must
# be stopped with the message that says what to do, and nothing else may
# fail. (Its {"email"} request is this address's second reset email within
# 15 minutes, inside the quota of 3; no token of it is used.)
set +e
whole=$(newman_run 2>&1)
status=$?
set -e
printf '%s\n' "$whole" >"$ARTIFACTS/newman-whole-collection.txt"
fail() { echo "newman, whole collection without tokens: $1 (output in $ARTIFACTS/newman-whole-collection.txt)" >&2; exit 1; }
[ "$status" -ne 0 ] || fail "it passed, but the requests that need resetToken and bearer must be reported"
for msg in 'resetToken is empty: run folder "1 Request reset" first' 'bearer is empty: after folder "2 Complete reset"'; do
  grep -qF "$msg" <<<"$whole" || fail "no message '$msg'"
done
# Failure details are numbered lines "N.  Type  test name"; only ours may be there.
others=$(grep -E '^ *[0-9]+\. +[A-Za-z]*Error ' <<<"$whole" | grep -vE 'Error +needs (resetToken|bearer) *$' || true)
[ -z "$others" ] || fail "other failures: $others"
stopped=$(grep -cE '^ *[0-9]+\. +Error +needs (resetToken|bearer) *$' <<<"$whole" || true)
[ "$stopped" -eq 6 ] || fail "$stopped requests stopped, want 6 (3 need resetToken, 3 need bearer)"
echo "newman: the whole collection without tokens stops the 6 requests that need them, each with its message"
