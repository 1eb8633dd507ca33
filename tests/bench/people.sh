#!/usr/bin/env bash
# Re-import time of the people directory at growing sizes: each size is imported once, then
# again with every tenth person changed (the re-import is what an hourly HR sync does).
#   tests/bench/people.sh [sizes…]      default: 10000 20000 40000 100000
# Uses the debug or release binary under $CARGO_TARGET_DIR (release if built).
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET="${CARGO_TARGET_DIR:-$HOME/.cache/roster-target}"
BIN="$TARGET/release/roster"
[ -x "$BIN" ] || BIN="$TARGET/debug/roster"
SIZES=("${@:-10000 20000 40000 100000}")
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
printf "| people | first import | re-import |\n|---|---|---|\n"
for n in ${SIZES[@]}; do
  rm -f "$WORK"/roster.db*
  printf '[database]\nurl = "sqlite://%s/roster.db?mode=rwc"\n' "$WORK" > "$WORK/roster.toml"
  python3 - "$n" "$WORK" <<'PY'
import sys
n, work = int(sys.argv[1]), sys.argv[2]
with open(f"{work}/a.csv", "w") as a, open(f"{work}/b.csv", "w") as b:
    a.write("id,email,name,active\n"); b.write("id,email,name,active\n")
    for i in range(n):
        a.write(f"p{i},p{i}@acme.example,Person {i},true\n")
        b.write(f"p{i},p{i}@acme.example,Person {i}{' (moved)' if i % 10 == 0 else ''},true\n")
PY
  t0=$(date +%s.%N)
  "$BIN" people import "$WORK/a.csv" --config "$WORK/roster.toml" --source hr > /dev/null
  t1=$(date +%s.%N)
  "$BIN" people import "$WORK/b.csv" --config "$WORK/roster.toml" --source hr > /dev/null
  t2=$(date +%s.%N)
  printf "| %s | %.2f s | %.2f s |\n" "$n" "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)"
done
