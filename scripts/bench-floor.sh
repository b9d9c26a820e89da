#!/usr/bin/env bash
# The floor comparison of BENCHMARKS.md: qun's durable creates (Feishu,
# DingTalk, WeCom app chats) next to a stdlib server that decodes the same
# bodies and answers the same sizes with no storage (qunload floor), in one
# run, at the same concurrency. SCENARIOS narrows the creates.
#
#   scripts/bench-floor.sh [SECONDS] [CLIENTS...]
#
# Defaults: 10 seconds, 32 clients. CLIENT=stdlib has qunload use
# net/http's client instead of its own (-client).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"; shift || true
clients=("${@:-32}")
dir="$(mktemp -d)"
go build -o "$dir/qun" ./cmd/qun
go build -o "$dir/qunload" ./cmd/qunload
"$dir/qunload" floor -addr 127.0.0.1:18201 >/dev/null 2>&1 &
floor=$!
"$dir/qun" serve --data "$dir/data" --addr 127.0.0.1:18202 --rate-limits off --log-level warn >"$dir/serve.log" 2>&1 &
qun=$!
trap 'kill $floor $qun 2>/dev/null; rm -rf "$dir"' EXIT
until curl -sf http://127.0.0.1:18202/readyz >/dev/null && curl -s -o /dev/null http://127.0.0.1:18201/metrics; do sleep 0.05; done

printf '| create | server | clients | creates/s | p99 | server CPU / request |\n| --- | --- | ---: | ---: | ---: | ---: |\n'
for sc in ${SCENARIOS:-create dingtalk_create wecom_create}; do
  for c in "${clients[@]}"; do
    for pair in "floor:18201" "qun:18202"; do
      name="${pair%:*}" port="${pair#*:}"
      out=$("$dir/qunload" -url "http://127.0.0.1:$port" -c "$c" -d "${secs}s" -scenario "$sc" -client "${CLIENT:-raw}")
      rps=$(sed -nE 's/.* ([0-9]+) req\/s/\1/p' <<<"$out")
      p99=$(sed -nE 's/.*p99 ([^,]+),.*/\1/p' <<<"$out")
      cpu=$(sed -nE 's/.*server CPU ([^ ]+) per request.*/\1/p' <<<"$out")
      printf '| %s | %s | %s | %s | %s | %s |\n' "$sc" "$name" "$c" "$rps" "$p99" "$cpu"
    done
  done
done
