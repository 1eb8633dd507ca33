#!/usr/bin/env bash
# Installs Prism and GitHub's OpenAPI description (npm, pinned) into a cache outside the clone,
# extracts the NHI subset the GitHub connector reads, and prints the two lines that point the
# Prism test at them:
#   eval "$(tests/github/setup.sh)"    # sets ROSTER_PRISM and ROSTER_GITHUB_SPEC
# Progress goes to stderr; stdout carries only the export lines. Exits non-zero if anything is
# missing, printing nothing on stdout.
set -euo pipefail
cd "$(dirname "$0")/../.."
OCTOKIT_OPENAPI_VERSION=23.0.2
# 5.14.2: the newest Prism whose engines accept Node 20 (5.15.11+ ask for Node >= 24).
PRISM_VERSION=5.14.2
DIR="${ROSTER_TOOLS_DIR:-$HOME/.cache/roster-tools}/github"
PRISM="$DIR/node_modules/.bin/prism"
SOURCE="$DIR/node_modules/@octokit/openapi/generated/ghec.json"
SPEC="$DIR/github-nhi-$OCTOKIT_OPENAPI_VERSION.json"

installed() {
  [ -x "$PRISM" ] && [ -f "$SOURCE" ] &&
    [ "$(node -p "require('$DIR/node_modules/@stoplight/prism-cli/package.json').version" 2>/dev/null)" = "$PRISM_VERSION" ] &&
    [ "$(node -p "require('$DIR/node_modules/@octokit/openapi/package.json').version" 2>/dev/null)" = "$OCTOKIT_OPENAPI_VERSION" ]
}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "tests/github/setup.sh: node and npm are required" >&2
  exit 1
fi
if ! installed; then
  echo "tests/github/setup.sh: installing @stoplight/prism-cli@$PRISM_VERSION and @octokit/openapi@$OCTOKIT_OPENAPI_VERSION into $DIR" >&2
  mkdir -p "$DIR"
  npm install --prefix "$DIR" --no-audit --no-fund --silent \
    "@stoplight/prism-cli@$PRISM_VERSION" "@octokit/openapi@$OCTOKIT_OPENAPI_VERSION" >&2
fi
if ! installed; then
  echo "tests/github/setup.sh: the npm install did not produce $PRISM and $SOURCE" >&2
  exit 1
fi
if [ ! -s "$SPEC" ] || [ tests/github/extract_spec.mjs -nt "$SPEC" ]; then
  node tests/github/extract_spec.mjs "$SOURCE" "$SPEC.tmp" >&2
  mv "$SPEC.tmp" "$SPEC"
fi
printf 'export ROSTER_PRISM=%q\n' "$PRISM"
printf 'export ROSTER_GITHUB_SPEC=%q\n' "$SPEC"
