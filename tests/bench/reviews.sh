#!/usr/bin/env bash
# Issue 20's review benchmark: the inbox and a decision round trip in a 100,000-item campaign,
# on SQLite and PostgreSQL, under loopback load from wrk (Debian package), after a warm-up.
# The campaign covers a 100k synthetic estate; its fallback reviewer is the bootstrap admin, whose
# inbox therefore holds every item nobody else owns. The decision is recorded again and again
# over the inbox's first 1000 items (a decision may change until sign-off), so every request
# writes a decision and its audit event.
# Usage: tests/bench/reviews.sh [records] [seconds]   (prints a Markdown table; BENCHMARKS.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-100000}
SECS=${2:-15}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/roster-target}"
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }
cargo build --release -p roster --locked >/dev/null 2>&1
BIN="$CARGO_TARGET_DIR/release/roster"
PG_ADMIN=${ROSTER_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
WORK=$(mktemp -d)
PORT=${ROSTER_BENCH_PORT:-18091}
SERVER=
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT

row() { # label path [lua]
  local out p50 p99 rps non2xx
  if [ -n "${3:-}" ]; then
    out=$(wrk -t2 -c8 -d"${SECS}s" --latency -s "$3" -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT$2")
  else
    curl -s -o /dev/null -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT$2"   # warm-up
    out=$(wrk -t2 -c8 -d"${SECS}s" --latency -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT$2")
  fi
  p50=$(echo "$out" | awk '$1=="50%"{print $2}')
  p99=$(echo "$out" | awk '$1=="99%"{print $2}')
  rps=$(echo "$out" | awk '/^Requests\/sec/{print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/{print $NF}')
  [ -z "$non2xx" ] || { echo "$2: $non2xx non-2xx responses" >&2; exit 1; }
  echo "| $BACKEND | $1 | $p50 | $p99 | $rps |"
}

bench_backend() { # name url
  BACKEND=$1
  printf '[server]\nbind = "127.0.0.1:%s"\npublic_url = "http://127.0.0.1:%s"\n[database]\nurl = "%s"\n[[connectors]]\nname = "sample"\nkind = "synthetic"\ncount = %s\n' \
    "$PORT" "$PORT" "$2" "$N" > "$WORK/roster.toml"
  "$BIN" sync --config "$WORK/roster.toml" >/dev/null
  "$BIN" campaign create --config "$WORK/roster.toml" --name "bench" --fallback-reviewer bootstrap \
    --keep-justification-from none --format json > "$WORK/campaign.json"
  local items; items=$(sed -E 's/.*"items":([0-9]+).*/\1/' "$WORK/campaign.json")
  # PostgreSQL as a server sees it once autovacuum has passed after the launch's bulk insert
  # (before that, every index-only read of the inbox visits the heap: about 10x slower).
  case "$2" in postgres*) psql -q "$2" -c "VACUUM ANALYZE campaign_items" ;; esac
  "$BIN" serve --config "$WORK/roster.toml" > "$WORK/serve.out" 2> "$WORK/serve.err" &
  SERVER=$!
  for _ in $(seq 100); do grep -q "login/bootstrap" "$WORK/serve.out" 2>/dev/null && break; sleep 0.2; done
  local link; link=$(grep -o "http://[^ ]*/login/bootstrap?token=[0-9a-f]*" "$WORK/serve.out" | head -1)
  COOKIE=$(curl -s -o /dev/null -D - "$link" | grep -i '^set-cookie: roster_session=' | sed 's/^[^:]*: //; s/;.*//' | tr -d '\r')
  [ -n "$COOKIE" ] || { echo "could not sign in with the bootstrap link" >&2; exit 1; }
  local csrf mine
  csrf=$(curl -s -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT/api/v1/session" | python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])')
  mine=$(curl -s -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT/reviews" | grep -o 'data-pending="[0-9]*"' | head -1 | grep -o '[0-9]*')
  echo "<!-- $BACKEND: campaign of $items items, $mine in the measured inbox -->"
  # The decision cycles over the inbox's first 1000 items, each wrk thread over its own half,
  # so no two requests in flight decide one item (that is a conflict, refused by design).
  local ids
  ids=$(curl -s -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT/api/v1/reviews" | python3 -c 'import json,sys; print(",".join(str(i["item"]) for i in json.load(sys.stdin)))')
  cat > "$WORK/decide.lua" <<LUA
local ids = {$ids}
local threads = 0
function setup(thread)
  thread:set("half", threads)
  threads = threads + 1
end
local n = 0
function request()
  local per = math.floor(#ids / 2)
  local id = ids[(half or 0) * per + (n % per) + 1]
  n = n + 1
  return wrk.format("POST", "/api/v1/reviews/" .. id .. "/decision", {
    ["Cookie"] = "$COOKIE",
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-CSRF-Token"] = "$csrf",
  }, "decision=keep&justification=bench")
end
LUA
  row "inbox, first page (riskiest first)" "/reviews"
  row "inbox, page 100" "/reviews?page=100"
  row "inbox sorted by due date" "/reviews?sort=due"
  row "inbox filtered (tier=high)" "/reviews?tier=high"
  row "decision round trip (POST, commits decision + audit event)" "/api/v1/reviews/decision" "$WORK/decide.lua"
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
}

echo "| backend | request | median | p99 | requests/s |"
echo "|---|---|---|---|---|"
bench_backend sqlite "sqlite://$WORK/r.db?mode=rwc"
if psql -q "$PG_ADMIN" -c 'select 1' >/dev/null 2>&1; then
  psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS roster_bench_reviews" -c "CREATE DATABASE roster_bench_reviews" >/dev/null
  bench_backend postgres "${PG_ADMIN%/*}/roster_bench_reviews"
fi
