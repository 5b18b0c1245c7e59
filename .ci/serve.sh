# Sourced by .ci/newman.sh and .ci/browser.sh: build accountpw, run
# `accountpw serve` on the embedded default (SQLite, log mailer) in a fresh
# temporary directory on a free loopback port, and read reset links from its
# log, with the admin API on a second free port. Defines ROOT, CLIENTS,
# ARTIFACTS, BASE_URL, ADMIN_URL, ADMIN_KEY, SERVE_DIR, SERVE_LOG and:
#   serve_start NAME        build, start, wait for /healthz; stopped at exit;
#                           the array SERVE_ENV ("NAME=value" entries) is
#                           added to the server's environment
#   apw ARGS...             run the binary in the server's directory and env
#   reset_mail_count EMAIL  how many reset emails EMAIL got so far
#   wait_reset_token EMAIL N  the token of the reset email after the first N
#   clients_install         npm ci of .ci/browser (newman, playwright-core)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLIENTS="$ROOT/.ci/browser"
ARTIFACTS="$ROOT/.ci/artifacts"
mkdir -p "$ARTIFACTS"

clients_install() {
  if [ ! -x "$CLIENTS/node_modules/.bin/newman" ] || [ "$CLIENTS/package-lock.json" -nt "$CLIENTS/node_modules/.package-lock.json" ]; then
    (cd "$CLIENTS" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

apw() {
  (cd "$SERVE_DIR" && env -u ACCOUNTPW_DATABASE_URL \
    ACCOUNTPW_HTTP_ADDR="127.0.0.1:$SERVE_PORT" \
    ACCOUNTPW_ADMIN_ADDR="127.0.0.1:$ADMIN_PORT" ACCOUNTPW_ADMIN_API_KEYS="$ADMIN_KEY" \
    ACCOUNTPW_RESET_URL="$BASE_URL/password-reset" \
    ACCOUNTPW_MAIL_PROVIDER=log \
    ACCOUNTPW_LOG_LEVEL=info \
    ACCOUNTPW_PASSWORD_ARGON2_MEMORY_KIB=19456 \
    ACCOUNTPW_PASSWORD_ARGON2_TIME=2 \
    ACCOUNTPW_PASSWORD_ARGON2_THREADS=1 \
    ./accountpw "$@")
}

serve_stop() {
  if [ -n "${SERVE_PID:-}" ] && kill -0 "$SERVE_PID" 2>/dev/null; then
    kill "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
  fi
  if [ -n "${SERVE_DIR:-}" ] && [ -d "$SERVE_DIR" ]; then
    cp "$SERVE_LOG" "$ARTIFACTS/$SERVE_NAME-serve.log" 2>/dev/null || true
    rm -rf "$SERVE_DIR"
  fi
}

serve_start() {
  SERVE_NAME=$1
  SERVE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/accountpw-$SERVE_NAME.XXXXXX")
  SERVE_LOG="$SERVE_DIR/serve.log"
  trap serve_stop EXIT
  (cd "$ROOT" && go build -o "$SERVE_DIR/accountpw" .)
  SERVE_PORT=$(free_port)
  BASE_URL="http://127.0.0.1:$SERVE_PORT"
  ADMIN_PORT=$(free_port)
  ADMIN_URL="http://127.0.0.1:$ADMIN_PORT"
  ADMIN_KEY=$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64url"))')
  # exec: $! is the server itself, so the trap stops exactly that process.
  (cd "$SERVE_DIR" && exec env -u ACCOUNTPW_DATABASE_URL \
    ACCOUNTPW_HTTP_ADDR="127.0.0.1:$SERVE_PORT" ACCOUNTPW_RESET_URL="$BASE_URL/password-reset" \
    ACCOUNTPW_ADMIN_ADDR="127.0.0.1:$ADMIN_PORT" ACCOUNTPW_ADMIN_API_KEYS="$ADMIN_KEY" \
    ACCOUNTPW_METRICS_ADDR=127.0.0.1:0 ACCOUNTPW_MAIL_PROVIDER=log ACCOUNTPW_LOG_LEVEL=info \
    ACCOUNTPW_PASSWORD_ARGON2_MEMORY_KIB=19456 ACCOUNTPW_PASSWORD_ARGON2_TIME=2 ACCOUNTPW_PASSWORD_ARGON2_THREADS=1 \
    ${SERVE_ENV[@]+"${SERVE_ENV[@]}"} ./accountpw serve >"$SERVE_LOG" 2>&1 </dev/null) &
  SERVE_PID=$!
  for _ in $(seq 1 150); do
    if curl -fsS -o /dev/null "$BASE_URL/healthz" 2>/dev/null; then
      echo "accountpw serving on $BASE_URL (pid $SERVE_PID, dir $SERVE_DIR)"
      return 0
    fi
    if ! kill -0 "$SERVE_PID" 2>/dev/null; then break; fi
    sleep 0.2
  done
  echo "accountpw did not become healthy; its log:" >&2
  cat "$SERVE_LOG" >&2
  return 1
}

reset_mails() {
  grep -F '"msg":"email (log mailer)"' "$SERVE_LOG" | grep -F '"kind":"reset"' | grep -F "\"to\":\"$1\"" || true
}

reset_mail_count() {
  reset_mails "$1" | grep -c . || true
}

wait_reset_token() {
  local email=$1 before=$2 mails
  for _ in $(seq 1 150); do
    mails=$(reset_mails "$email")
    if [ "$(printf '%s' "$mails" | grep -c .)" -gt "$before" ]; then
      printf '%s\n' "$mails" | tail -n1 | grep -o 'password-reset?token=[A-Za-z0-9_-]*' | tail -n1 | cut -d= -f2
      return 0
    fi
    sleep 0.2
  done
  echo "no reset email for $email within 30 s" >&2
  return 1
}
