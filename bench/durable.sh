#!/usr/bin/env bash
# The durable store (--data-dir) measured two ways, release builds, loopback only, bounded:
#   fsync  publish p50/p99 and publishes/s with the in-memory store and each --fsync mode
#          (loadgen: 10 SSE subscribers, 5,000 events of 200 bytes published back to back);
#   size   the data directory's size over a soak with small backlog bounds: publishing flat
#          out on rotating channels, each kept to 100 events and dropped when idle, so
#          that a store that never deletes grows without bound and one that does stays flat.
# `bash bench/durable.sh fsync`, `bash bench/durable.sh size [SECONDS]`, or both (default).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d /tmp/cometgate-durable.XXXX)
trap 'kill ${gateway:-} 2>/dev/null || true; rm -rf "$work"' EXIT
cargo build --release -q -p cometgate -p cometgate-bench
loadgen=$root/target/release/loadgen

start_cometgate() {
  "$root/target/release/cometgate" --bind 127.0.0.1:18190 --workers 2 --publish-rate 0 \
    --stream-max-bytes 67108864 "$@" >/dev/null 2>&1 &
  gateway=$!
  sleep 0.5
}
stop_cometgate() { kill "$gateway"; wait "$gateway" 2>/dev/null || true; }

fsync_modes() {
  for mode in memory always interval never; do
    rm -rf "$work/data"
    # A backlog as long as the run, so that a subscriber behind the flat-out publisher refills
    # from it instead of being told of a gap (loadgen counts that as loss).
    if [ "$mode" = memory ]; then start_cometgate --backlog-size 5000; else
      start_cometgate --backlog-size 5000 --data-dir "$work/data" --fsync "$mode"; fi
    line=$(timeout 300 "$loadgen" --target 127.0.0.1:18190 --kind sse --subscribers 10 --events 5000 --rate 0 \
      --payload 200 --pid "$gateway" --timeout 240 || echo '{"error":true}')
    echo "{\"store\":\"$mode\",\"result\":$line}"
    stop_cometgate
  done
}

# Bytes the directory takes on disk (allocated blocks: the journal is preallocated sparse).
disk_bytes() { du -s --block-size=1 "$1" | cut -f1; }

size_curve() {
  local seconds=${1:-300}
  rm -rf "$work/data"
  start_cometgate --data-dir "$work/data" --backlog-size 100 --backlog-max-age 60s --channel-idle 10s \
    --sweep-interval 5s --max-event-bytes 4096
  local started=$SECONDS round=0
  echo '{"seconds":0,"disk_bytes":'"$(disk_bytes "$work/data")"'}'
  while (( SECONDS - started < seconds )); do
    round=$((round + 1))
    timeout 120 "$loadgen" --target 127.0.0.1:18190 --kind sse --subscribers 1 --events 5000 --rate 0 \
      --payload 1024 --channel "soak-$((round % 20))" --timeout 100 >/dev/null || true
    echo '{"seconds":'"$((SECONDS - started))"',"round":'"$round"',"disk_bytes":'"$(disk_bytes "$work/data")"'}'
  done
  stop_cometgate
}

case ${1:-both} in
  fsync) fsync_modes ;;
  size) size_curve "${2:-300}" ;;
  both) fsync_modes; size_curve 300 ;;
esac
