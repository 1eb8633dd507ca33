#!/usr/bin/env bash
# Installs npm @gitbeaker/core (pinned; a maintained GitLab API client whose TypeScript types
# declare the response schemas) into a cache outside the clone, extracts the schemas' field
# names, and prints the line that points the fixture schema check at them:
#   eval "$(tests/gitlab/setup.sh)"    # sets ROSTER_GITLAB_SCHEMAS
# Progress goes to stderr; stdout carries only the export line. Exits non-zero if anything is
# missing, printing nothing on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
GITBEAKER_VERSION=43.8.0
DIR="${ROSTER_TOOLS_DIR:-$HOME/.cache/roster-tools}/gitlab"
TYPES="$DIR/node_modules/@gitbeaker/core/dist/index.d.ts"
SCHEMAS="$DIR/gitbeaker-schemas-$GITBEAKER_VERSION.json"

installed() {
  [ -f "$TYPES" ] &&
    [ "$(node -p "require('$DIR/node_modules/@gitbeaker/core/package.json').version" 2>/dev/null)" = "$GITBEAKER_VERSION" ]
}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "tests/gitlab/setup.sh: node and npm are required" >&2
  exit 1
fi
if ! installed; then
  echo "tests/gitlab/setup.sh: installing @gitbeaker/core@$GITBEAKER_VERSION into $DIR" >&2
  mkdir -p "$DIR"
  npm install --prefix "$DIR" --no-audit --no-fund --silent "@gitbeaker/core@$GITBEAKER_VERSION" >&2
fi
if ! installed; then
  echo "tests/gitlab/setup.sh: the npm install did not produce $TYPES" >&2
  exit 1
fi
if [ ! -s "$SCHEMAS" ] || [ tests/gitlab/extract_schemas.mjs -nt "$SCHEMAS" ]; then
  node tests/gitlab/extract_schemas.mjs "$TYPES" "$SCHEMAS.tmp" >&2
  mv "$SCHEMAS.tmp" "$SCHEMAS"
fi
printf 'export ROSTER_GITLAB_SCHEMAS=%q\n' "$SCHEMAS"
