#!/usr/bin/env bash
# cometgate and Nchan side by side on this machine: installs nginx and Nchan from Debian's
# packages when missing, builds cometgate and the load generator in release mode, runs the
# same scenarios against both (a fresh server for each), and prints one table with both
# figures and their ratio. Loopback only; every run is bounded in time.
# `ONLY='10,000 subscribers' bash bench/compare.sh` runs the scenarios matching a regex.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d /tmp/cometgate-compare.XXXX)
results=$work/results.jsonl
trap 'pkill -f "nginx -c $root/bench/nchan.conf" 2>/dev/null || true; kill ${gateway:-} 2>/dev/null || true' EXIT

if ! [ -e /usr/lib/nginx/modules/ngx_nchan_module.so ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx libnginx-mod-nchan
fi
cargo build --release -q -p cometgate -p cometgate-bench
loadgen=$root/target/release/loadgen

# start_cometgate [ARGS...]: the gateway with the bench's settings and any more ARGS.
start_cometgate() {
  "$root/target/release/cometgate" --bind 127.0.0.1:18180 --workers 2 --max-subscribers 20000 \
    --stream-max-bytes 16777216 "$@" >/dev/null 2>&1 &
  gateway=$!
  sleep 0.5
  pids=(--pid "$gateway")
}
stop_cometgate() { kill "$gateway"; wait "$gateway" 2>/dev/null || true; }
start_nchan() {
  mkdir -p "$work/nchan/tmp"
  nginx -c "$root/bench/nchan.conf" -p "$work/nchan/" -g 'daemon on;'
  sleep 0.5
  pids=()
  for pid in $(pgrep -f "nginx: worker process"); do pids+=(--pid "$pid"); done
}
stop_nchan() { nginx -c "$root/bench/nchan.conf" -p "$work/nchan/" -s quit; sleep 1; }

# run SCENARIO SERVER KIND LOADGEN-ARGS...: one fresh server, one load run, one JSON line.
# ONLY=REGEX (environment) runs just the scenarios whose name matches.
run() {
  local scenario=$1 server=$2 kind=$3; shift 3
  [[ $scenario =~ ${ONLY:-.} ]] || return 0
  local publish=()
  case $server in
    cometgate) start_cometgate; target=127.0.0.1:18180 ;;
    cometgate-internal) start_cometgate --internal-bind 127.0.0.1:18182; target=127.0.0.1:18180; publish=(--publish-to 127.0.0.1:18182) ;;
    nchan) start_nchan; target=127.0.0.1:18181 ;;
  esac
  local line
  line=$(timeout 300 "$loadgen" --target "$target" "${publish[@]}" --kind "$kind" "${pids[@]}" --timeout 240 "$@" || echo '{"error":true}')
  echo "{\"scenario\":\"$scenario\",\"server\":\"$server\",\"result\":$line}" | tee -a "$results"
  if [ "$server" = nchan ]; then stop_nchan; else stop_cometgate; fi
}

pair() {
  local scenario=$1 ours=$2 theirs=$3; shift 3
  run "$scenario" cometgate "$ours" "$@"
  run "$scenario" nchan "$theirs" "$@"
}

pair "idle SSE, 10,000 held" sse nchan-sse --subscribers 10000 --idle-only
pair "idle long-poll, 10,000 held" poll nchan-poll --subscribers 10000 --idle-only
pair "SSE, 1,000 subscribers, 100 events at 10/s" sse nchan-sse --subscribers 1000 --events 100 --rate 10
pair "SSE, 10,000 subscribers, 100 events at 10/s" sse nchan-sse --subscribers 10000 --events 100 --rate 10
pair "long-poll, 1,000 subscribers, 100 events at 10/s" poll nchan-poll --subscribers 1000 --events 100 --rate 10
pair "long-poll, 10,000 subscribers, 100 events at 10/s" poll nchan-poll --subscribers 10000 --events 100 --rate 10
# The same two loads with publishes on cometgate's internal listener (its own worker).
run "SSE, 10,000 subscribers, 100 events at 10/s" cometgate-internal sse --subscribers 10000 --events 100 --rate 10
run "long-poll, 10,000 subscribers, 100 events at 10/s" cometgate-internal poll --subscribers 10000 --events 100 --rate 10
pair "streaming XHR vs raw stream, 10,000, 100 at 10/s" stream nchan-stream --subscribers 10000 --events 100 --rate 10
pair "iframe vs raw stream, 10,000, 100 at 10/s" iframe nchan-stream --subscribers 10000 --events 100 --rate 10
# WebSocket: cometgate's /ws against Nchan's WebSocket subscriber on its /sub location.
pair "idle WebSocket, 10,000 held" ws nchan-ws --subscribers 10000 --idle-only
pair "WebSocket, 10,000 subscribers, 100 events at 10/s" ws nchan-ws --subscribers 10000 --events 100 --rate 10
pair "throughput: SSE, 1,000 subscribers, 1,000 events flat out" sse nchan-sse --subscribers 1000 --events 1000 --rate 0
# One connection for ten channels: idle cost, and fan-out with events on one channel or on all ten.
run "idle SSE, 10,000 held, 10 channels each" cometgate sse --subscribers 10000 --idle-only --channels 10
run "idle long-poll, 10,000 held, 10 channels each" cometgate poll --subscribers 10000 --idle-only --channels 10
run "SSE, 10,000 x 10 channels, 100 events at 10/s on one" cometgate sse --subscribers 10000 --events 100 --rate 10 --channels 10
run "SSE, 10,000 x 10 channels, 100 events at 10/s over all" cometgate sse --subscribers 10000 --events 100 --rate 10 --channels 10 --spread

python3 "$root/bench/table.py" "$results"
echo "raw results: $results"
