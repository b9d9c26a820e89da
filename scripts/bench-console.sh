#!/usr/bin/env bash
# Times the console's pages on two nodes side by side, one on a small
# store and one on a big one (qunload preload fills them):
#
#   go build -o /tmp/qun ./cmd/qun && go build -o /tmp/qunload ./cmd/qunload
#   /tmp/qunload preload -chats 10000 -data /tmp/qun-10k
#   /tmp/qunload preload -chats 1000000 -data /tmp/qun-1m
#   scripts/bench-console.sh /tmp/qun /tmp/qun-10k /tmp/qun-1m
#
# Each page: 3 warm-up requests, then the median of 20 (curl's total time).
set -euo pipefail
qun=${1:?the qun binary}; small=${2:?the small data directory}; big=${3:?the big data directory}
tok=bench-token
"$qun" serve --data "$small" --addr 127.0.0.1:18081 --admin-token $tok --journal 0 --rate-limits off --log-level warn >/dev/null 2>&1 &
a=$!
"$qun" serve --data "$big" --addr 127.0.0.1:18082 --admin-token $tok --journal 0 --rate-limits off --log-level warn >/dev/null 2>&1 &
b=$!
trap 'kill $a $b' EXIT
until curl -sf localhost:18081/readyz >/dev/null && curl -sf localhost:18082/readyz >/dev/null; do sleep 0.2; done
cat "$small"/qun.db* "$big"/qun.db* > /dev/null 2>&1 || true   # warm the page cache
med() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for port in 18081 18082; do
  mid=5000; [ $port = 18082 ] && mid=500000
  chat=$(curl -s -H "Authorization: Bearer $tok" "localhost:$port/admin/v1/chats?limit=1" | sed -n 's/.*"chat_id":"\([^"]*\)".*/\1/p' | head -1)
  for page in "/console" "/console?q=%E5%91%A8%E4%BC%9A" "/console?before=$mid" "/console/chats/$chat" "/console/directory" "/console/controls"; do
    for i in $(seq 3); do curl -s -o /dev/null -b "qun_admin=$tok" "localhost:$port$page"; done
    t=$(for i in $(seq 20); do curl -s -o /dev/null -w '%{time_total}\n' -b "qun_admin=$tok" "localhost:$port$page"; done | med)
    code=$(curl -s -o /dev/null -w '%{http_code}' -b "qun_admin=$tok" "localhost:$port$page")
    printf '%s\t%s\t%s\t%s ms\n' "$port" "$page" "$code" "$(awk -v t=$t 'BEGIN{printf "%.1f", t*1000}')"
  done
done
