#!/usr/bin/env bash
# Lint the service with the golangci-lint pinned in .ci/lint/go.mod (a module
# of its own, so the linter never enters the service's go.mod).
#
#   .ci/lint.sh                  lint ./... with .ci/golangci.yml
#   .ci/lint.sh ./services/...   lint only these packages
#   .ci/lint.sh --fix ./...      any other golangci-lint `run` flags
#
# The linter is built once into a cache directory (overridable with
# LINT_BIN_DIR; not ACCOUNTPW_*, a prefix the service reserves and refuses
# unknown names of) under a name that carries the pinned version and the
# Go toolchain, and reused while both stay the same.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# The .ci/lint module is self-contained: no go.work may pull it into another
# build, and the toolchain must not be switched behind our back.
export GOWORK=off

version=$(cd .ci/lint && go list -m -f '{{.Version}}' github.com/golangci/golangci-lint/v2)
gover=$(go env GOVERSION)
bin_dir=${LINT_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/accountpw}
bin="$bin_dir/golangci-lint-$version-$gover"

if [ ! -x "$bin" ]; then
  mkdir -p "$bin_dir"
  echo "building golangci-lint $version with $gover into $bin" >&2
  tmp=$(mktemp "$bin.tmp.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  (cd .ci/lint && go build -trimpath -o "$tmp" github.com/golangci/golangci-lint/v2/cmd/golangci-lint)
  mv -f "$tmp" "$bin" # atomic: a half-written binary is never picked up
  trap - EXIT
fi

"$bin" version

if [ $# -eq 0 ]; then
  set -- ./...
fi
cd "$root"
exec "$bin" run --config .ci/golangci.yml "$@"
