#!/usr/bin/env bash
# DESIGN.md §7 rows 1, 2 and 5: ingest + classify of a 100k synthetic estate on SQLite and on
# PostgreSQL, the re-sync of the unchanged estate, and peak RSS while syncing 1M records.
# Usage: tests/bench/ingest.sh [runs]   (prints a Markdown table; see BENCHMARKS.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-3}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/roster-target}"
cargo build --release -p roster --locked >/dev/null 2>&1
BIN="$CARGO_TARGET_DIR/release/roster"
PG_ADMIN=${ROSTER_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

config() { # url count
  printf '[database]\nurl = "%s"\n[[connectors]]\nname = "sample"\nkind = "synthetic"\ncount = %s\n' "$1" "$2" > "$WORK/roster.toml"
}
timed() { # prints "seconds maxrss_kb"
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$BIN" sync --config "$WORK/roster.toml" >/dev/null
  cat "$WORK/time"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

bench_backend() { # name
  local first=() again=() rss=()
  for _ in $(seq "$RUNS"); do
    if [ "$1" = sqlite ]; then
      rm -f "$WORK"/b.db*; url="sqlite://$WORK/b.db?mode=rwc"
    else
      psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS roster_bench" -c "CREATE DATABASE roster_bench" >/dev/null
      url="${PG_ADMIN%/*}/roster_bench"
    fi
    config "$url" 100000
    read -r s m < <(timed); first+=("$s"); rss+=("$m")
    read -r s _ < <(timed); again+=("$s")
  done
  f=$(printf '%s\n' "${first[@]}" | median); a=$(printf '%s\n' "${again[@]}" | median)
  r=$(printf '%s\n' "${rss[@]}" | median)
  echo "| $1 | 100,000 | ${f} s | $(awk "BEGIN {printf \"%d\", 100000/$f}")/s | ${a} s | $(awk "BEGIN {printf \"%.1f\", 100*$a/$f}") % | $((r / 1024)) MB |"
}

echo "| backend | records | first sync (median of $RUNS) | ingest rate | unchanged re-sync | re-sync / first | peak RSS |"
echo "|---|---|---|---|---|---|---|"
bench_backend sqlite
if psql -q "$PG_ADMIN" -c 'select 1' >/dev/null 2>&1; then bench_backend postgres; fi

rm -f "$WORK"/b.db*
config "sqlite://$WORK/b.db?mode=rwc" 1000000
read -r s m < <(timed)
echo
echo "1,000,000 records into SQLite: ${s} s, peak RSS $((m / 1024)) MB"
