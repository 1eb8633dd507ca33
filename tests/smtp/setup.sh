#!/usr/bin/env bash
# Installs aiosmtpd (PyPI, pinned) into a virtualenv in a cache outside the clone and prints the
# line that points the notification tests at its Python:
#   eval "$(tests/smtp/setup.sh)"    # sets ROSTER_AIOSMTPD_PYTHON
# The tests start `$ROSTER_AIOSMTPD_PYTHON -m aiosmtpd -n -l 127.0.0.1:PORT -c
# aiosmtpd.handlers.Mailbox DIR` (see tests/support/mod.rs) and read the messages back from the
# Maildir. Progress goes to stderr; stdout carries only the export line. Exits non-zero if
# anything is missing, printing nothing on stdout.
set -euo pipefail
AIOSMTPD_VERSION=1.4.6
VENV="${ROSTER_TOOLS_DIR:-$HOME/.cache/roster-tools}/aiosmtpd-$AIOSMTPD_VERSION"

installed() {
  [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("aiosmtpd"))' 2>/dev/null)" = "$AIOSMTPD_VERSION" ]
}

if ! installed; then
  if ! command -v python3 >/dev/null; then
    echo "tests/smtp/setup.sh: python3 (with venv and pip) is required" >&2
    exit 1
  fi
  echo "tests/smtp/setup.sh: installing aiosmtpd==$AIOSMTPD_VERSION into $VENV" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV" >&2
  "$VENV/bin/pip" install -q "aiosmtpd==$AIOSMTPD_VERSION" >&2
fi
if ! installed; then
  echo "tests/smtp/setup.sh: aiosmtpd==$AIOSMTPD_VERSION is not installed in $VENV" >&2
  exit 1
fi
printf 'export ROSTER_AIOSMTPD_PYTHON=%q\n' "$VENV/bin/python"
