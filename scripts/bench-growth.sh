#!/usr/bin/env bash
# The growth benchmark of BENCHMARKS.md: the same load on a store of 10,000
# chats and on one of 1,000,000 (two members each), side by side in one
# run, so that the rows compare (this machine is shared and noisy).
#
#   scripts/bench-growth.sh [SMALL] [LARGE] [SECONDS] [CLIENTS]
#
# Defaults: 10000 1000000 5 16. Data directories are kept under
# ${BENCH_DIR:-/tmp/qun-growth} and reused when they exist (a million
# chats take about five minutes to preload). With PG set to a PostgreSQL
# URL, the stores are the schemas qun_growth_SMALL and qun_growth_LARGE
# there instead (kept and reused too; a million chats take about twenty
# minutes to preload).
set -euo pipefail
cd "$(dirname "$0")/.."
small="${1:-10000}" large="${2:-1000000}" secs="${3:-5}" clients="${4:-16}"
dir="${BENCH_DIR:-/tmp/qun-growth}"
mkdir -p "$dir"
go build -o "$dir/qun" ./cmd/qun
go build -o "$dir/qunload" ./cmd/qunload
scenarios="${SCENARIOS:-get members is_in_chat list search add_member admin_chats create}"

pg="${PG:-}"
with() { case "$pg" in *\?*) echo "$pg&search_path=$1";; *) echo "$pg?search_path=$1";; esac; }
for n in "$small" "$large"; do
  if [ -n "$pg" ]; then
    if [ -z "$(psql -Atq "$pg" -c "SELECT 1 FROM pg_namespace WHERE nspname = 'qun_growth_$n'")" ]; then
      psql -q "$pg" -c "CREATE SCHEMA qun_growth_$n"
      "$dir/qunload" preload -db "$(with "qun_growth_$n")" -chats "$n"
    fi
  else
    [ -d "$dir/data-$n" ] || "$dir/qunload" preload -data "$dir/data-$n" -chats "$n"
  fi
done
store() { if [ -n "$pg" ]; then echo "--db=$(with "qun_growth_$1")"; else echo "--data=$dir/data-$1"; fi; }

serve() { # n port
  local t0; t0=$(date +%s%N)
  "$dir/qun" serve "$(store "$1")" --addr "127.0.0.1:$2" --rate-limits off --admin-token bench --log-level warn >"$dir/serve-$1.log" 2>&1 &
  echo $! >"$dir/pid-$1"
  until curl -sf "http://127.0.0.1:$2/readyz" >/dev/null; do sleep 0.05; done
  echo "start-up on $1 chats: $(( ($(date +%s%N) - t0) / 1000000 )) ms (until /readyz)"
}
# Both stores start warm: their files in the page cache, as on a server
# that has been running (the first reads of a cold 2 GB file measure the
# disk, not qun).
[ -n "$pg" ] || cat "$dir/data-$small"/* "$dir/data-$large"/* >/dev/null
serve "$small" 18101
serve "$large" 18102
trap 'kill $(cat "$dir/pid-$small" "$dir/pid-$large") 2>/dev/null' EXIT
if [ -n "$pg" ]; then
  for n in "$small" "$large"; do
    echo "qun_growth_$n: $(psql -Atq "$pg" -c "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c WHERE c.relnamespace = 'qun_growth_$n'::regnamespace AND c.relkind = 'r'") bytes in PostgreSQL"
  done
else
  du -sb "$dir/data-$small" "$dir/data-$large" | while read -r bytes path; do
    echo "$path: $bytes bytes on disk"
  done
fi

printf '\n| scenario | chats | req/s | p99 | server CPU / request |\n| --- | ---: | ---: | ---: | ---: |\n'
for sc in $scenarios; do
  for pair in "$small:18101" "$large:18102"; do
    n="${pair%:*}" port="${pair#*:}"
    out=$("$dir/qunload" -url "http://127.0.0.1:$port" -c "$clients" -d "${secs}s" -scenario "$sc" -chats "$n" -admin-token bench)
    rps=$(sed -nE 's/.* ([0-9]+) req\/s/\1/p' <<<"$out")
    p99=$(sed -nE 's/.*p99 ([^,]+),.*/\1/p' <<<"$out")
    cpu=$(sed -nE 's/.*server CPU ([^ ]+) per request.*/\1/p' <<<"$out")
    printf '| %s | %s | %s | %s | %s |\n' "$sc" "$n" "$rps" "$p99" "$cpu"
  done
done
