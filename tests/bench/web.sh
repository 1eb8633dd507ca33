#!/usr/bin/env bash
# DESIGN.md §7, page latency: the dashboard and filtered inventory pages (or, with `search`, the
# inventory's search box) over 1,000,000 identities, under loopback load from wrk (Debian
# package), measured after one warm-up pass. SQLite by default; ROSTER_BENCH_DATABASE=postgres
# uses a fresh database on the machine's PostgreSQL.
# Usage: tests/bench/web.sh [records] [seconds] [pages|search]   (a Markdown table; BENCHMARKS.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000000}
SECS=${2:-20}
SET=${3:-pages}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/roster-target}"
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }
cargo build --release -p roster --locked >/dev/null 2>&1
BIN="$CARGO_TARGET_DIR/release/roster"
WORK=${ROSTER_BENCH_DIR:-$(mktemp -d)}
PORT=${ROSTER_BENCH_PORT:-18089}
URL="sqlite://$WORK/w.db?mode=rwc"
FRESH=$([ -s "$WORK/w.db" ] && echo no || echo yes)
if [ "${ROSTER_BENCH_DATABASE:-sqlite}" = postgres ]; then
  PG_ADMIN=${ROSTER_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
  URL="${PG_ADMIN%/*}/roster_web_bench"
  if ! psql -q "$URL" -c 'select 1' >/dev/null 2>&1; then
    psql -q "$PG_ADMIN" -c "CREATE DATABASE roster_web_bench" >/dev/null; FRESH=yes
  else FRESH=no; fi
fi
printf '[server]\nbind = "127.0.0.1:%s"\npublic_url = "http://127.0.0.1:%s"\n[database]\nurl = "%s"\n[[connectors]]\nname = "sample"\nkind = "synthetic"\ncount = %s\n' \
  "$PORT" "$PORT" "$URL" "$N" > "$WORK/roster.toml"
if [ "$FRESH" = yes ]; then
  echo "syncing $N records into $WORK/w.db" >&2
  /usr/bin/time -f "sync: %e s, peak RSS %M KB" "$BIN" sync --config "$WORK/roster.toml" >/dev/null
fi
"$BIN" serve --config "$WORK/roster.toml" > "$WORK/serve.out" 2> "$WORK/serve.err" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "login/bootstrap\|admin sign-in-link" "$WORK/serve.out" 2>/dev/null && break; sleep 0.2; done
LINK=$(grep -o "http://[^ ]*/login/bootstrap?token=[0-9a-f]*" "$WORK/serve.out" | head -1 || true)
# A store that has been served before prints no link: ask for one.
[ -n "$LINK" ] || LINK=$("$BIN" admin sign-in-link --config "$WORK/roster.toml" 2>&1 | grep -o "http://[^ ]*token=[0-9a-f]*" | head -1)
COOKIE=$(curl -s -o /dev/null -D - "$LINK" | grep -i '^set-cookie: roster_session=' | sed 's/^[^:]*: //; s/;.*//' | tr -d '\r')
[ -n "$COOKIE" ] || { echo "could not sign in with the bootstrap link" >&2; exit 1; }
ID=$(curl -s -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT/api/v1/identities?platform=aws&kind=role" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')

echo "| page | median | p99 | requests/s |"
echo "|---|---|---|---|"
if [ "$SET" = search ]; then
  # A word most records hold, a rarer one, an owner's start, two words, a number inside ids,
  # a word nothing holds, a platform beside a word, and the id order. (A search of only one- or
  # two-letter words is refused: trigrams cannot serve it.)
  PATHS=("/inventory?q=sample" "/inventory?q=deploy" "/inventory?q=alice" "/inventory?q=payments+alice"
         "/inventory?q=4242" "/inventory?q=zzqqxx" "/inventory?platform=github&q=deploy"
         "/inventory?q=deploy&sort=id")
else
  PATHS=("/dashboard" "/inventory?platform=github" "/inventory?platform=aws&kind=access_key" "/inventory?platform=github&q=deploy" "/inventory?tier=critical" "/inventory?sort=risk" "/identities/$ID")
fi
for path in "${PATHS[@]}"; do
  curl -s -o /dev/null -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT$path"   # warm-up
  out=$(wrk -t2 -c8 -d"${SECS}s" --latency -H "Cookie: $COOKIE" "http://127.0.0.1:$PORT$path")
  p50=$(echo "$out" | awk '$1=="50%"{print $2}')
  p99=$(echo "$out" | awk '$1=="99%"{print $2}')
  rps=$(echo "$out" | awk '/^Requests\/sec/{print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/{print $NF}')
  [ -z "$non2xx" ] || { echo "$path: $non2xx non-2xx responses" >&2; exit 1; }
  echo "| \`$path\` | $p50 | $p99 | $rps |"
done
