#!/usr/bin/env bash
# DESIGN.md §7: launching a campaign over 100k identities (target ≤ 3 s). Syncs a 100k synthetic
# estate once, then times `roster campaign create` over all of it (every record evaluated,
# reviewer assigned, snapshot written, one transaction), `runs` times on SQLite and PostgreSQL.
# Usage: tests/bench/campaign.sh [runs]   (prints a Markdown table; see BENCHMARKS.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-3}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/roster-target}"
cargo build --release -p roster --locked >/dev/null 2>&1
BIN="$CARGO_TARGET_DIR/release/roster"
PG_ADMIN=${ROSTER_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

bench_backend() { # name url
  printf '[database]\nurl = "%s"\n[[connectors]]\nname = "sample"\nkind = "synthetic"\ncount = 100000\n' "$2" > "$WORK/roster.toml"
  "$BIN" sync --config "$WORK/roster.toml" >/dev/null
  local times=() rss=() items=0
  for i in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %M" -o "$WORK/time" "$BIN" campaign create --config "$WORK/roster.toml" \
      --name "bench $i" --fallback-reviewer iam@bench.example --format json > "$WORK/out"
    items=$(sed -E 's/.*"items":([0-9]+).*/\1/' "$WORK/out")
    read -r s m < "$WORK/time"; times+=("$s"); rss+=("$m")
  done
  t=$(printf '%s\n' "${times[@]}" | median); r=$(printf '%s\n' "${rss[@]}" | median)
  echo "| $1 | $items | ${t} s | $(awk "BEGIN {printf \"%d\", $items/$t}")/s | $((r / 1024)) MB |"
}

echo "| backend | items launched | launch (median of $RUNS) | items/s | peak RSS |"
echo "|---|---|---|---|---|"
bench_backend sqlite "sqlite://$WORK/c.db?mode=rwc"
if psql -q "$PG_ADMIN" -c 'select 1' >/dev/null 2>&1; then
  psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS roster_bench_campaign" -c "CREATE DATABASE roster_bench_campaign" >/dev/null
  bench_backend postgres "${PG_ADMIN%/*}/roster_bench_campaign"
fi
