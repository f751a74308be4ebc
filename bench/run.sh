#!/usr/bin/env bash
# Benchmarks for the replay pipeline (not a test: prints figures only).
#
# What it measures, on a 5M-event seed-distribution file (1M orders, 4
# purchases each, 10k orders in flight, 5% late requests, 1% duplicates,
# 0.1% malformed, fixed seed):
#   1. full-speed replay, RUNS times: events/s, latency p50/p99/p99.9, peak RSS
#      (the median run is reported, and every run is listed);
#   2. paced replay at 1M events/s: latency percentiles (ingest -> durable);
#   3. the hot path in one process (bench/src/bin/hot_path.rs): ns and heap
#      allocations per event for parse, batch, job, and the threaded path;
#   4. syscalls per event of a full replay (perf, when present).
# Generating the file is excluded from every timing. The journal is fsynced
# per group (the default durability) in every run.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
cargo build --release --quiet -p aldebaran -p bench
B=target/release/aldebaran
dir=target/bench
mkdir -p "$dir"
f=$dir/seed-5m.jsonl
[ -s "$f" ] || "$B" gen --orders 1000000 --purchases 4 --open 10000 --seed 7 -o "$f"
echo "input: $f ($(wc -l < "$f") lines, $(du -h "$f" | cut -f1)); nproc=$(nproc)"

run() { # label, extra flags...
  local label=$1; shift
  rm -rf "$dir/j"
  /usr/bin/time -f "peak_rss_kb %M" "$B" replay "$f" --journal "$dir/j" -q "$@" >"$dir/out" 2>"$dir/err"
  python3 - "$label" "$dir/out" "$dir/err" <<'PY'
import re, sys
label, out, err = sys.argv[1], open(sys.argv[2]).read(), open(sys.argv[3]).read()
eps = float(re.search(r"events/s\s+(\d+)", out).group(1))
lat = re.search(r"p50 ([\d.]+) ms\s+p99 ([\d.]+) ms\s+p99.9 ([\d.]+) ms", out).groups()
rss = int(re.search(r"peak_rss_kb (\d+)", err).group(1))
print(f"{label}\t{eps:.0f}\t{lat[0]}\t{lat[1]}\t{lat[2]}\t{rss/1024:.0f}")
PY
}

summarise() {
  python3 -c '
import sys, statistics
rows = [l.split("\t") for l in sys.stdin.read().splitlines()]
for r in rows: print("  run: %s events/s, p50 %s ms, p99 %s ms, p99.9 %s ms, peak RSS %s MiB" % tuple(r[1:]))
med = sorted(rows, key=lambda r: float(r[1]))[len(rows)//2]
print("  median: %s events/s, p50 %s ms, p99 %s ms, p99.9 %s ms, peak RSS %s MiB" % tuple(med[1:]))
'
}

echo "== 1. full-speed replay ($RUNS runs, default threads)"
for i in $(seq "$RUNS"); do run full; done | summarise
echo "== 1b. full-speed replay, --threads 1 ($RUNS runs)"
for i in $(seq "$RUNS"); do run threads1 --threads 1; done | summarise
echo "== 2. paced replay at 1M events/s ($RUNS runs)"
for i in $(seq "$RUNS"); do run paced --rate 1000000; done | summarise
echo "== 3. hot path (one process)"
target/release/hot_path "$f"
if command -v perf >/dev/null && perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1; then
  echo "== 4. syscalls per event (whole process, all threads)"
  rm -rf "$dir/j"
  perf stat -x, -e raw_syscalls:sys_enter -o "$dir/perf" "$B" replay "$f" --journal "$dir/j" -q >/dev/null
  n=$(grep raw_syscalls "$dir/perf" | cut -d, -f1)
  python3 -c "print(f'  {int($n)} syscalls for $(wc -l < "$f") lines: {int($n)/$(wc -l < "$f"):.5f} per event')"
fi
