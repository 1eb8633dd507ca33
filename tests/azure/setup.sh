#!/usr/bin/env bash
# Installs Microsoft's Graph TypeScript types (npm, pinned) into a cache outside the clone and
# prints the line that points the Entra fixture schema test at them:
#   eval "$(tests/azure/setup.sh)"    # sets ROSTER_GRAPH_TYPES_DIR
# (crates/connector-azure/tests/schema.rs checks every Graph fixture against
# $ROSTER_GRAPH_TYPES_DIR/microsoft-graph-types{,-beta}/microsoft-graph.d.ts.)
# Progress goes to stderr; stdout carries only the export line. Exits non-zero if anything is
# missing, printing nothing on stdout.
set -euo pipefail
GRAPH_TYPES_VERSION=2.43.1
GRAPH_TYPES_BETA_VERSION=0.44.0-preview
DIR="${ROSTER_TOOLS_DIR:-$HOME/.cache/roster-tools}/azure"
TYPES="$DIR/node_modules/@microsoft"

version() {
  node -p "require('$TYPES/$1/package.json').version" 2>/dev/null || true
}
installed() {
  [ -f "$TYPES/microsoft-graph-types/microsoft-graph.d.ts" ] &&
    [ -f "$TYPES/microsoft-graph-types-beta/microsoft-graph.d.ts" ] &&
    [ "$(version microsoft-graph-types)" = "$GRAPH_TYPES_VERSION" ] &&
    [ "$(version microsoft-graph-types-beta)" = "$GRAPH_TYPES_BETA_VERSION" ]
}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "tests/azure/setup.sh: node and npm are required" >&2
  exit 1
fi
if ! installed; then
  echo "tests/azure/setup.sh: installing @microsoft/microsoft-graph-types@$GRAPH_TYPES_VERSION and @microsoft/microsoft-graph-types-beta@$GRAPH_TYPES_BETA_VERSION into $DIR" >&2
  mkdir -p "$DIR"
  npm install --prefix "$DIR" --no-audit --no-fund --silent \
    "@microsoft/microsoft-graph-types@$GRAPH_TYPES_VERSION" \
    "@microsoft/microsoft-graph-types-beta@$GRAPH_TYPES_BETA_VERSION" >&2
fi
if ! installed; then
  echo "tests/azure/setup.sh: the npm install did not produce $TYPES/microsoft-graph-types{,-beta}" >&2
  exit 1
fi
printf 'export ROSTER_GRAPH_TYPES_DIR=%q\n' "$TYPES"
