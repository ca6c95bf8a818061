#!/bin/bash
# Times a restart: `BIN serve` on DATA_DIR, polled on /readyz every 10 ms; prints the
# seconds to the first 200 and the resident memory then (docs/PERFORMANCE.md, S8 and
# the vault's restart floor). usage: scripts/perf/restart.sh BIN DATA_DIR [PORT]
set -euo pipefail
bin=$1; dir=$2; port=${3:-18990}
start=$(date +%s.%N)
MUSTER_DATA_DIR=$dir MUSTER_BIND=127.0.0.1:$port "$bin" serve > "$dir/restart-serve.log" 2>&1 &
pid=$!
until curl -sf -o /dev/null "http://127.0.0.1:$port/readyz"; do sleep 0.01; done
end=$(date +%s.%N)
rss=$(ps -o rss= -p $pid)
kill $pid; wait $pid 2>/dev/null || true
echo "ready $(echo "$end - $start" | bc) s rss ${rss} KiB"
