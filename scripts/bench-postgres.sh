#!/usr/bin/env bash
# The PostgreSQL table of BENCHMARKS.md: durable Feishu creates on SQLite,
# on PostgreSQL with one node and with two nodes (one database), next to
# PostgreSQL's own floor (qunload pgfloor: a transaction inserting a chat
# and two members, as one statement and as three), in one run, at each
# client count.
#
#   scripts/bench-postgres.sh [SECONDS] [CLIENTS...]
#
# Defaults: 8 seconds; 1, 16, 32 and 64 clients. PG is the server's URL
# (default postgres://postgres@127.0.0.1:5432/test); the script makes and
# drops schemas of its own there.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-8}"; shift || true
clients=("${@:-1 16 32 64}")
clients=(${clients[@]})
pg="${PG:-postgres://postgres@127.0.0.1:5432/test}"
dir="$(mktemp -d)"
tag="bench_$$"
go build -o "$dir/qun" ./cmd/qun
go build -o "$dir/qunload" ./cmd/qunload
psql -q "$pg" -c "CREATE SCHEMA ${tag}_qun; CREATE SCHEMA ${tag}_floor"
with() { case "$pg" in *\?*) echo "$pg&search_path=$1";; *) echo "$pg?search_path=$1";; esac; }
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  psql -q "$pg" -c "SET client_min_messages = warning; DROP SCHEMA ${tag}_qun CASCADE; DROP SCHEMA ${tag}_floor CASCADE" || true
  rm -rf "$dir"
}
trap cleanup EXIT
serve() { "$dir/qun" serve --addr "127.0.0.1:$1" --rate-limits off --log-level warn "${@:2}" >"$dir/serve-$1.log" 2>&1 & pids+=($!); }
serve 18301 --data "$dir/sqlite"
serve 18302 --db "$(with ${tag}_qun)"
until curl -sf http://127.0.0.1:18302/readyz >/dev/null; do sleep 0.1; done
serve 18303 --db "$(with ${tag}_qun)"
until curl -sf http://127.0.0.1:18301/readyz >/dev/null && curl -sf http://127.0.0.1:18303/readyz >/dev/null; do sleep 0.1; done

row() { # label, qunload output
  local rps p99 cpu
  rps=$(sed -nE 's/.* ([0-9]+) (req|tx)\/s.*/\1/p' <<<"$2")
  p99=$(sed -nE 's/.*p99 ([^, ]+).*/\1/p' <<<"$2")
  cpu=$(sed -nE 's/.*server CPU ([^ ]+) per request.*/\1/p' <<<"$2")
  printf '| %s | %s | %s | %s | %s |\n' "$1" "$c" "$rps" "$p99" "${cpu:-}"
}
printf '| create | clients | creates/s | p99 | qun CPU / create |\n| --- | ---: | ---: | ---: | ---: |\n'
for c in "${clients[@]}"; do
  row "SQLite, one node" "$("$dir/qunload" -url http://127.0.0.1:18301 -c "$c" -d "${secs}s" -scenario create)"
  row "PostgreSQL, one node" "$("$dir/qunload" -url http://127.0.0.1:18302 -c "$c" -d "${secs}s" -scenario create)"
  row "PostgreSQL, two nodes" "$("$dir/qunload" -url http://127.0.0.1:18302,http://127.0.0.1:18303 -c "$c" -d "${secs}s" -scenario create)"
  row "PostgreSQL floor, one statement" "$("$dir/qunload" pgfloor -db "$(with ${tag}_floor)" -c "$c" -d "${secs}s")"
  row "PostgreSQL floor, three statements" "$("$dir/qunload" pgfloor -db "$(with ${tag}_floor)" -c "$c" -d "${secs}s" -statements 3)"
done
