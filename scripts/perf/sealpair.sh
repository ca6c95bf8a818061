#!/bin/bash
# Pairs sealed and plain `muster bench` runs of one or more builds, the order
# alternating per round (docs/PERFORMANCE.md, the vault's throughput floor).
# usage: scripts/perf/sealpair.sh ROUNDS BIN... — run from the repository's root
# prints: round build mode commands/s commands/batch append_us cpu_us/command p50_us load
set -euo pipefail
rounds=$1; shift
for r in $(seq 1 "$rounds"); do
  for b in "$@"; do
    if [ $((r % 2)) = 1 ]; then modes="sealed plain"; else modes="plain sealed"; fi
    for m in $modes; do
      flag=""; [ "$m" = plain ] && flag=--plain
      out=$("$b" bench --seconds 8 --submitters 64 --json $flag 2>/dev/null | grep '^{')
      echo "$r $(basename "$b") $m $(echo "$out" | python3 -c 'import sys,json; d=json.loads(sys.stdin.read()); print(round(d["commands_per_sec"]), round(d["commands_per_batch"],1), round(d["append_us"]), round(d["cpu_us_per_command"],1), d["p50_us"])') load=$(cut -d' ' -f1 /proc/loadavg)"
    done
  done
done
