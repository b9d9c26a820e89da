#!/usr/bin/env bash
# Two versions of qun side by side on PostgreSQL, next to PostgreSQL's own
# floor: the A/B tables of BENCHMARKS.md. Each round runs a create load
# against version A, version B (each its own node on its own schema of one
# database) and `qunload pgfloor` (one statement), one after the other, so
# that the host's drift hits all three alike; the medians over the rounds
# and each round's B/floor and A/floor ratios are printed. "total CPU" is
# the whole machine's busy time per create (/proc/stat: qun, PostgreSQL and
# the load tool), "qun CPU" the node's own (its /metrics).
#
#   scripts/bench-ab.sh A B [ROUNDS] [SECONDS] [CLIENTS]
#
# A and B are git revisions (a commit, a branch, HEAD~1) or "." for the
# working tree. Defaults: 12 rounds, 3 seconds a cell, 32 clients.
# SCENARIO (default create) picks the qunload scenario; PG is the server's
# URL (default postgres://postgres@127.0.0.1:5432/test?sslmode=disable).
# Rate limits are off and the request journal keeps nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n '2,17p' "$0"; exit 2; }
a="$1" b="$2" rounds="${3:-12}" secs="${4:-3}" clients="${5:-32}"
scenario="${SCENARIO:-create}"
pg="${PG:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
dir="$(mktemp -d)"
tag="ab_$$"
with() { case "$pg" in *\?*) echo "$pg&search_path=$1";; *) echo "$pg?search_path=$1";; esac; }
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  psql -q "$pg" -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS ${tag}_a CASCADE; DROP SCHEMA IF EXISTS ${tag}_b CASCADE; DROP SCHEMA IF EXISTS ${tag}_f CASCADE" || true
  git worktree remove --force "$dir/tree" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
build() { # revision, output
  if [ "$1" = . ]; then go build -o "$2" ./cmd/qun; return; fi
  git worktree remove --force "$dir/tree" 2>/dev/null || true
  git worktree add -q --detach "$dir/tree" "$1"
  (cd "$dir/tree" && go build -o "$2" ./cmd/qun)
}
build "$a" "$dir/qun-a"
build "$b" "$dir/qun-b"
go build -o "$dir/qunload" ./cmd/qunload
psql -q "$pg" -c "CREATE SCHEMA ${tag}_a; CREATE SCHEMA ${tag}_b; CREATE SCHEMA ${tag}_f"
serve() { "$1" serve --addr "127.0.0.1:$2" --rate-limits off --journal 0 --log-level warn --db "$(with "$3")" >"$dir/serve-$2.log" 2>&1 & pids+=($!); }
serve "$dir/qun-a" 18311 "${tag}_a"
serve "$dir/qun-b" 18312 "${tag}_b"
until curl -sf http://127.0.0.1:18311/readyz >/dev/null && curl -sf http://127.0.0.1:18312/readyz >/dev/null; do sleep 0.1; done
if [ "$scenario" != create ] && [ "$scenario" != dingtalk_create ] && [ "$scenario" != wecom_create ]; then
  "$dir/qunload" preload -chats 10000 -db "$(with "${tag}_a")" >/dev/null
  "$dir/qunload" preload -chats 10000 -db "$(with "${tag}_b")" >/dev/null
fi

busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
hz=$(getconf CLK_TCK)
cell() { # qunload arguments; prints "ops/s total-µs qun-µs"
  local b0 b1 out ok rps qcpu
  b0=$(busy); out=$("$dir/qunload" "$@"); b1=$(busy)
  ok=$(sed -nE 's/.*ok ([0-9]+),.*/\1/p' <<<"$out")
  rps=$(sed -nE 's/.* ([0-9]+) (req|tx)\/s.*/\1/p' <<<"$out")
  qcpu=$(sed -nE 's/.*server CPU ([0-9]+)µs per request.*/\1/p' <<<"$out")
  echo "$rps $(( (b1 - b0) * 1000000 / hz / (ok > 0 ? ok : 1) )) ${qcpu:--}"
}
declare -a A B F
printf '| round | A creates/s | B creates/s | floor tx/s | A / floor | B / floor | A total CPU | B total CPU | A qun CPU | B qun CPU |\n'
printf '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
for r in $(seq "$rounds"); do
  A[r]=$(cell -url http://127.0.0.1:18311 -c "$clients" -d "${secs}s" -scenario "$scenario" -chats 10000)
  B[r]=$(cell -url http://127.0.0.1:18312 -c "$clients" -d "${secs}s" -scenario "$scenario" -chats 10000)
  F[r]=$(cell pgfloor -db "$(with "${tag}_f")" -c "$clients" -d "${secs}s")
  read -r ar at aq <<<"${A[r]}"; read -r br bt bq <<<"${B[r]}"; read -r fr _ _ <<<"${F[r]}"
  printf '| %d | %s | %s | %s | %d %% | %d %% | %s µs | %s µs | %s µs | %s µs |\n' "$r" "$ar" "$br" "$fr" \
    $((ar * 100 / fr)) $((br * 100 / fr)) "$at" "$bt" "$aq" "$bq"
done
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
col() { local -n rows=$1; for r in "${!rows[@]}"; do echo "${rows[r]}"; done | awk -v k="$2" '{print $k}' | median; }
share() { local -n rows=$1; for r in "${!rows[@]}"; do read -r x _ <<<"${rows[r]}"; read -r f _ <<<"${F[r]}"; echo $((x * 100 / f)); done | median; }
printf '| median | %s | %s | %s | %s %% | %s %% | %s µs | %s µs | %s µs | %s µs |\n' "$(col A 1)" "$(col B 1)" "$(col F 1)" "$(share A)" "$(share B)" \
  "$(col A 2)" "$(col B 2)" "$(col A 3)" "$(col B 3)"
