#!/usr/bin/env bash
# Fan-out through 1, 2 and 4 gateway nodes on one Redis, subscribers spread over the nodes,
# beside one node on the in-memory bus at the same load: deliveries per second and latency
# per node count, and what Redis adds. Loopback only; bounded runs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d /tmp/cometgate-nodes.XXXX)
results=$work/results.jsonl
subscribers=${SUBSCRIBERS:-4000}
events=${EVENTS:-200}
rate=${RATE:-20}
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }
cargo build --release -q -p cometgate -p cometgate-bench

run() {
  local label=$1 nodes=$2 redis=$3
  local pids=() targets=() extra=()
  if [ "$redis" = yes ]; then
    redis-server --port 18379 --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >/dev/null &
    redis_pid=$!
    sleep 0.5
    extra=(--redis-url redis://127.0.0.1:18379/)
  fi
  for n in $(seq 1 "$nodes"); do
    "$root/target/release/cometgate" --bind "127.0.0.1:1820$n" --workers 1 --max-subscribers 20000 "${extra[@]}" >/dev/null 2>&1 &
    pids+=(--pid $!)
    targets+=(--target "127.0.0.1:1820$n")
  done
  sleep 1
  local line
  line=$(timeout 300 "$root/target/release/loadgen" "${targets[@]}" "${pids[@]}" --kind sse \
    --subscribers "$subscribers" --events "$events" --rate "$rate" --timeout 240 || echo '{"error":true}')
  echo "{\"setup\":\"$label\",\"result\":$line}" | tee -a "$results"
  for pid in "${pids[@]}"; do [ "$pid" = --pid ] || kill "$pid"; done
  [ "$redis" = yes ] && kill "$redis_pid"
  wait 2>/dev/null || true
}

run "1 node, in-memory bus" 1 no
run "1 node on Redis" 1 yes
run "2 nodes on Redis" 2 yes
run "4 nodes on Redis" 4 yes

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| setup | deliveries/s | p50 ms | p99 ms | max ms | lost | duplicated | server CPU µs/delivery |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for row in rows:
    r = row["result"]
    print(f"| {row['setup']} | {r.get('deliveries_per_s')} | {r.get('p50_ms')} | {r.get('p99_ms')} | {r.get('max_ms')} | {r.get('lost')} | {r.get('duplicated')} | {r.get('cpu_us_per_delivery')} |")
PY
