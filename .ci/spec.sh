#!/usr/bin/env bash
# Lint openapi.yaml with Spectral (spectral:oas, .spectral.yaml) and Redocly
# CLI (recommended, .ci/spec/redocly.yaml), pinned in .ci/spec/package-lock.json.
# Either one's error fails; their warnings are printed only. The rules turned
# off in the two files say why.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SPEC="$ROOT/.ci/spec"

# No analytics, telemetry or update checks: CI reaches only the registries.
export SCARF_ANALYTICS=false REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

if [ ! -x "$SPEC/node_modules/.bin/spectral" ] || [ "$SPEC/package-lock.json" -nt "$SPEC/node_modules/.package-lock.json" ]; then
  (cd "$SPEC" && npm ci --no-audit --no-fund --loglevel=error --prefer-offline)
fi

cd "$ROOT"
# Both run, so that one run shows every problem.
status=0
"$SPEC/node_modules/.bin/spectral" lint --ruleset .spectral.yaml --fail-severity error openapi.yaml || status=$?
# Redocly boxes a notice about Node.js 20 around its report; the box is left out.
out=$("$SPEC/node_modules/.bin/redocly" lint --config .ci/spec/redocly.yaml openapi.yaml 2>&1) || status=$?
printf '%s\n' "$out" | grep -vE '^ *[║╔╚]' || true
if [ "$status" -ne 0 ]; then echo "openapi.yaml: the linters found errors (above)" >&2; fi
exit "$status"
