#!/usr/bin/env bash
# A soak run: builds cometgate and the soak client in release mode, starts one gateway on
# loopback with the default limits (streams end every minute, to exercise the timeout
# frames), and runs `soak` against it: thousands of subscribers over all six transports
# (SSE, long-poll, streaming XHR, iframe, JSONP, WebSocket), random cuts and resumes,
# steady publishing. Extra arguments go to `soak` (see
# `target/release/soak --help`), e.g. `bash bench/soak.sh --subscribers 8000 --seconds 600`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
trap 'kill ${gateway:-} 2>/dev/null || true' EXIT

cargo build --release -q -p cometgate -p cometgate-bench
"$root/target/release/cometgate" --bind 127.0.0.1:18182 --stream-max-age 1m --max-subscribers 20000 \
  >/tmp/cometgate-soak.log 2>&1 &
gateway=$!
sleep 0.5
"$root/target/release/soak" --target 127.0.0.1:18182 --pid "$gateway" "$@"
