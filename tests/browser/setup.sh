#!/usr/bin/env bash
# The browser suite's parts: Debian's Chromium (apt-get) and npm `playwright-core` and `axe-core`
# (pinned, installed into a cache outside the clone, with suite.mjs, demo.mjs and inbox.mjs copied beside them so their
# imports resolve). Prints the lines that point tests/browser.rs at them:
#   eval "$(tests/browser/setup.sh)"   # sets ROSTER_BROWSER_SUITE and ROSTER_CHROMIUM
# Progress goes to stderr; stdout carries only the export lines. Exits non-zero if anything
# is missing, printing nothing on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
PLAYWRIGHT_VERSION=1.65.1
AXE_VERSION=4.14.1
DIR="${ROSTER_TOOLS_DIR:-$HOME/.cache/roster-tools}/browser"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

CHROMIUM="${ROSTER_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ] && command -v apt-get >/dev/null; then
  echo "tests/browser/setup.sh: installing Debian's chromium" >&2
  as_root apt-get update -qq >&2 && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ ! -x "$CHROMIUM" ]; then
  echo "tests/browser/setup.sh: no Chromium at $CHROMIUM" >&2
  exit 1
fi

version() { node -p "require('$DIR/node_modules/$1/package.json').version" 2>/dev/null || true; }
if [ "$(version playwright-core)" != "$PLAYWRIGHT_VERSION" ] || [ "$(version axe-core)" != "$AXE_VERSION" ]; then
  echo "tests/browser/setup.sh: installing playwright-core@$PLAYWRIGHT_VERSION and axe-core@$AXE_VERSION into $DIR" >&2
  mkdir -p "$DIR"
  npm install --prefix "$DIR" --no-audit --no-fund --silent \
    "playwright-core@$PLAYWRIGHT_VERSION" "axe-core@$AXE_VERSION" >&2
fi
if [ "$(version playwright-core)" != "$PLAYWRIGHT_VERSION" ] || [ "$(version axe-core)" != "$AXE_VERSION" ]; then
  echo "tests/browser/setup.sh: the npm install did not produce the pinned packages in $DIR" >&2
  exit 1
fi
cp tests/browser/suite.mjs tests/browser/demo.mjs tests/browser/inbox.mjs "$DIR/"
printf 'export ROSTER_BROWSER_SUITE=%q\n' "$DIR/suite.mjs"
printf 'export ROSTER_CHROMIUM=%q\n' "$CHROMIUM"
