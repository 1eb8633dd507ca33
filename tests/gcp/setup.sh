#!/usr/bin/env bash
# Fetches Google's discovery documents for IAM v1, Policy Analyzer v1 and Resource Manager v1 as
# shipped in PyPI `google-api-python-client` (pinned) into a cache outside the clone, and prints
# the line that points the GCP schema tests at them:
#   eval "$(tests/gcp/setup.sh)"    # sets ROSTER_GCP_DISCOVERY_DIR
# Progress goes to stderr; stdout carries only the export line. Exits non-zero if anything is
# missing, printing nothing on stdout.
set -euo pipefail
GOOGLE_API_PYTHON_CLIENT_VERSION=2.202.0
DIR="${ROSTER_TOOLS_DIR:-$HOME/.cache/roster-tools}/gcp"
OUT="$DIR/discovery-$GOOGLE_API_PYTHON_CLIENT_VERSION"
DOCS="iam policyanalyzer cloudresourcemanager"

installed() {
  for n in $DOCS; do [ -s "$OUT/$n.v1.json" ] || return 1; done
}

if ! installed; then
  if ! command -v python3 >/dev/null; then
    echo "tests/gcp/setup.sh: python3 (with pip) is required" >&2
    exit 1
  fi
  echo "tests/gcp/setup.sh: fetching google-api-python-client==$GOOGLE_API_PYTHON_CLIENT_VERSION into $DIR" >&2
  WHEELS="$DIR/wheel-$GOOGLE_API_PYTHON_CLIENT_VERSION"
  mkdir -p "$WHEELS"
  # The wheel only: its discovery_cache holds the documents; nothing is installed or imported.
  python3 -m pip download --no-deps --only-binary=:all: -q -d "$WHEELS" \
    "google-api-python-client==$GOOGLE_API_PYTHON_CLIENT_VERSION" >&2
  rm -rf "$OUT.tmp" && mkdir -p "$OUT.tmp"
  python3 - "$WHEELS" "$OUT.tmp" $DOCS <<'PY' >&2
import glob, json, sys, zipfile
wheels, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
(wheel,) = glob.glob(f"{wheels}/google_api_python_client-*.whl")
with zipfile.ZipFile(wheel) as z:
    for n in names:
        data = z.read(f"googleapiclient/discovery_cache/documents/{n}.v1.json")
        json.loads(data)  # a document that does not parse is not installed
        open(f"{out}/{n}.v1.json", "wb").write(data)
PY
  rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
  rm -rf "$WHEELS"
fi
if ! installed; then
  echo "tests/gcp/setup.sh: the discovery documents are not in $OUT" >&2
  exit 1
fi
printf 'export ROSTER_GCP_DISCOVERY_DIR=%q\n' "$OUT"
