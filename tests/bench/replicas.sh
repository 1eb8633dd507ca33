#!/usr/bin/env bash
# Issue 22, replicas: requests/s and p99 of signed-in pages through haproxy (Debian package)
# with two `roster serve` on one PostgreSQL, against one server behind the same haproxy and one
# server asked directly. Load from wrk (Debian package) on loopback, after a warm-up request.
# Everything (PostgreSQL, haproxy, the servers, wrk) shares the machine: on 2 cores a second
# replica adds no CPU, so read the numbers as what the balancer costs and what two processes
# on one machine give, not as a cluster's scaling.
# Usage: tests/bench/replicas.sh [records] [seconds]   (a Markdown table; BENCHMARKS.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-10000}
SECS=${2:-15}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/roster-target}"
command -v wrk >/dev/null || { apt-get install -y -qq wrk >/dev/null; }
HAPROXY="$(command -v haproxy || { [ -x /usr/sbin/haproxy ] && echo /usr/sbin/haproxy; } || true)"
[ -n "$HAPROXY" ] || { apt-get install -y -qq haproxy >/dev/null; HAPROXY=/usr/sbin/haproxy; }
cargo build --release -p roster --locked >/dev/null 2>&1
BIN="$CARGO_TARGET_DIR/release/roster"
WORK=$(mktemp -d)
PG_ADMIN=${ROSTER_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
URL="${PG_ADMIN%/*}/roster_replicas_bench"
psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS roster_replicas_bench" >/dev/null
psql -q "$PG_ADMIN" -c "CREATE DATABASE roster_replicas_bench" >/dev/null
LB=${ROSTER_BENCH_PORT:-18090}
A=$((LB + 1))
B=$((LB + 2))
printf '[server]\nbind = "127.0.0.1:%s"\npublic_url = "http://127.0.0.1:%s"\n[database]\nurl = "%s"\n[[connectors]]\nname = "sample"\nkind = "synthetic"\ncount = %s\n' \
  "$A" "$LB" "$URL" "$N" > "$WORK/roster.toml"
echo "syncing $N records into $URL" >&2
"$BIN" sync --config "$WORK/roster.toml" >/dev/null

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
serve() {  # name port
  ROSTER_SERVER__BIND="127.0.0.1:$2" "$BIN" serve --config "$WORK/roster.toml" > "$WORK/$1.out" 2> "$WORK/$1.err" &
  PIDS+=($!)
  for _ in $(seq 100); do grep -q "login/bootstrap\|admin sign-in-link" "$WORK/$1.out" 2>/dev/null && return; sleep 0.2; done
  echo "roster serve $1 did not start" >&2; exit 1
}
serve a "$A"
serve b "$B"
haproxy_with() {  # servers…: a config with these backends, started; sets HAPROXY_PID
  {
    printf 'global\n    maxconn 1024\ndefaults\n    mode http\n    timeout connect 1s\n    timeout client 30s\n    timeout server 30s\n'
    printf 'frontend web\n    bind 127.0.0.1:%s\n    default_backend roster\n' "$LB"
    printf 'backend roster\n    balance roundrobin\n    option httpchk\n    http-check send meth GET uri /readyz\n'
    for s in "$@"; do printf '    server %s 127.0.0.1:%s check inter 1s\n' "${s%%:*}" "${s##*:}"; done
  } > "$WORK/haproxy.cfg"
  "$HAPROXY" -db -f "$WORK/haproxy.cfg" 2> "$WORK/haproxy.err" &
  HAPROXY_PID=$!
  PIDS+=($HAPROXY_PID)
  for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$LB/readyz" && return; sleep 0.2; done
  echo "haproxy did not start" >&2; exit 1
}

# A session (in the database, valid on both servers) from the first server's one-time link.
LINK=$(grep -o "http://[^ ]*/login/bootstrap?token=[0-9a-f]*" "$WORK/a.out" | head -1 | sed "s/:$LB\//:$A\//")
COOKIE=$(curl -s -o /dev/null -D - "$LINK" | grep -i '^set-cookie: roster_session=' | sed 's/^[^:]*: //; s/;.*//' | tr -d '\r')
[ -n "$COOKIE" ] || { echo "could not sign in with the bootstrap link" >&2; exit 1; }

PATHS=("/dashboard" "/inventory?platform=github")
measure() {  # label base
  for path in "${PATHS[@]}"; do
    curl -s -o /dev/null -H "Cookie: $COOKIE" "$2$path"   # warm-up
    out=$(wrk -t2 -c16 -d"${SECS}s" --latency -H "Cookie: $COOKIE" "$2$path")
    p50=$(echo "$out" | awk '$1=="50%"{print $2}')
    p99=$(echo "$out" | awk '$1=="99%"{print $2}')
    rps=$(echo "$out" | awk '/^Requests\/sec/{print $2}')
    non2xx=$(echo "$out" | awk '/Non-2xx/{print $NF}')
    [ -z "$non2xx" ] || { echo "$1 $path: $non2xx non-2xx responses" >&2; exit 1; }
    echo "| $1 | \`$path\` | $p50 | $p99 | $rps |"
  done
}
echo "| setup | page | median | p99 | requests/s |"
echo "|---|---|---|---|---|"
measure "1 server, direct" "http://127.0.0.1:$A"
haproxy_with "a:$A"
measure "1 server, haproxy" "http://127.0.0.1:$LB"
kill "$HAPROXY_PID"; wait "$HAPROXY_PID" 2>/dev/null || true
haproxy_with "a:$A" "b:$B"
measure "2 servers, haproxy" "http://127.0.0.1:$LB"
