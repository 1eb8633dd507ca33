#!/usr/bin/env bash
# Installs oidc-provider (npm, pinned) into a cache outside the clone, copies
# tests/oidc/provider.mjs beside it (so its `import 'oidc-provider'` resolves), and prints the line
# that points the sign-in test at it:
#   eval "$(tests/oidc/setup.sh)"    # sets ROSTER_OIDC_PROVIDER (run with `node`)
# Progress goes to stderr; stdout carries only the
# export lines. Exits non-zero if anything is missing, printing nothing on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
OIDC_PROVIDER_VERSION=9.13.3
DIR="${ROSTER_TOOLS_DIR:-$HOME/.cache/roster-tools}/oidc"

installed() {
  [ "$(node -p "require('$DIR/node_modules/oidc-provider/package.json').version" 2>/dev/null)" = "$OIDC_PROVIDER_VERSION" ]
}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "tests/oidc/setup.sh: node and npm are required" >&2
  exit 1
fi
if ! installed; then
  echo "tests/oidc/setup.sh: installing oidc-provider@$OIDC_PROVIDER_VERSION into $DIR" >&2
  mkdir -p "$DIR"
  npm install --prefix "$DIR" --no-audit --no-fund --silent "oidc-provider@$OIDC_PROVIDER_VERSION" >&2
fi
if ! installed; then
  echo "tests/oidc/setup.sh: the npm install did not produce oidc-provider@$OIDC_PROVIDER_VERSION in $DIR" >&2
  exit 1
fi
cp tests/oidc/provider.mjs "$DIR/provider.mjs"
printf 'export ROSTER_OIDC_PROVIDER=%q\n' "$DIR/provider.mjs"
