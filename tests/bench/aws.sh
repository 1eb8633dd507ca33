#!/usr/bin/env bash
# DESIGN.md §7 last row: `roster sync` of an AWS estate in moto (1,000 users, ~1,300 keys,
# 200 roles) side by side with a per-entity boto3 client (ListUsers, ListAccessKeys per user,
# GetAccessKeyLastUsed per key, ListRoles) on the same moto, alternating, `runs` times each.
# Usage: tests/bench/aws.sh [runs]   (needs python3; installs moto into ~/.cache/roster-tools)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-3}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/roster-target}"
TOOLS="${ROSTER_TOOLS_DIR:-$HOME/.cache/roster-tools}"
MOTO_VENV="$TOOLS/moto-5.2.5"
if [ ! -x "$MOTO_VENV/bin/moto_server" ]; then
  python3 -m venv "$MOTO_VENV" && "$MOTO_VENV/bin/pip" install -q "moto[server]==5.2.5" boto3
fi
cargo build --release -p roster --locked >/dev/null 2>&1
BIN="$CARGO_TARGET_DIR/release/roster"
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
MOTO_IAM_LOAD_MANAGED_POLICIES=true "$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
trap 'kill $MOTO_PID 2>/dev/null; rm -rf "$WORK"' EXIT
EP="http://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -sf "$EP/moto-api/" >/dev/null 2>&1 && break; sleep 0.2; done
"$MOTO_VENV/bin/python" tests/bench/aws_estate.py seed "$EP"

cat > "$WORK/roster.toml" <<TOML
[database]
url = "sqlite://$WORK/r.db?mode=rwc"
[[connectors]]
name = "bench-aws"
kind = "aws"
accounts = [{ id = "123456789012" }]
endpoint_url = "$EP"
access_key_id_env = "BENCH_KEY_ID"
secret_access_key_env = "BENCH_SECRET"
TOML
export BENCH_KEY_ID=AKIAIOSFODNN7EXAMPLE BENCH_SECRET=bench-not-a-secret
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
: >"$WORK/boto" ; : >"$WORK/roster"
for _ in $(seq "$RUNS"); do
  "$MOTO_VENV/bin/python" tests/bench/aws_estate.py per-entity "$EP" >>"$WORK/boto"
  rm -f "$WORK"/r.db*
  BEFORE=$(grep -c '"POST / ' "$WORK/moto.log" || true)
  /usr/bin/time -f "%e %M" -o "$WORK/t" "$BIN" sync --config "$WORK/roster.toml" --format json >"$WORK/report.json"
  AFTER=$(grep -c '"POST / ' "$WORK/moto.log" || true)
  echo "$(cat "$WORK/t") $((AFTER - BEFORE))" >>"$WORK/roster"
done
B=$(cut -d' ' -f1 "$WORK/boto" | median); BREQ=$(head -1 "$WORK/boto" | cut -d' ' -f2)
R=$(cut -d' ' -f1 "$WORK/roster" | median); RSS=$(cut -d' ' -f2 "$WORK/roster" | median)
SEEN=$(python3 -c "import json;r=json.load(open('$WORK/report.json'));print(r['counts'])")
echo "| client | median of $RUNS (s) | requests | peak RSS |"
echo "|---|---|---|---|"
echo "| boto3 per-entity (users, keys, last use, roles: $(head -1 "$WORK/boto" | cut -d' ' -f3-5)) | $B | $BREQ | — |"
echo "| roster sync (release, SQLite) | $R | $(head -1 "$WORK/roster" | cut -d' ' -f3) | $((RSS / 1024)) MB |"
echo "ratio roster / boto3: $(python3 -c "print(f'{$R/$B:.2f}')")"
echo "roster counts: $SEEN"
