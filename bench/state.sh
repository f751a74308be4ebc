#!/usr/bin/env bash
# What keeping the state of `aldebaran run` costs the disk (not a test: it
# prints figures only).
#
# The case: a followed file that already holds OPEN purchase requests (open
# books: the state) and then grows by one overfilling order every 40 ms for
# SECS seconds — a large state over a slow stream. For each binary it reports
# the bytes the process wrote to disk per minute while the file grew
# (/proc/PID/io write_bytes, sampled after the initial load and at the end;
# journal, input log, snapshots and sink output all count), the full
# checkpoints the summary says it wrote, and the size of one snapshot.
#
#   bench/state.sh                        # this checkout's binary
#   OTHER=/path/to/aldebaran bench/state.sh   # ... side by side with another
#
# OPEN (default 200000), SECS (default 30) and RUNS (default 1) set the sizes.
# The initial load (reading the OPEN requests) is excluded from the rate.
set -euo pipefail
cd "$(dirname "$0")/.."
OPEN=${OPEN:-200000}
SECS=${SECS:-30}
RUNS=${RUNS:-1}
cargo build --release --quiet -p aldebaran
B=$PWD/target/release/aldebaran
dir=$PWD/target/bench-state
mkdir -p "$dir"

one() { # label binary
  local label=$1 bin=$2 work
  work=$(mktemp -d "$dir/run.XXXX")
  python3 - "$work/trades.jsonl" "$OPEN" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    for i in range(n):
        f.write('{"id":"open-%d","#shares":1000,"client":"c","stock":"S","ts":%d}\n' % (i, 1700000000000 + i))
PY
  cat > "$work/c.toml" <<EOF
[source]
kind = "file"
[source.file]
path = "$work/trades.jsonl"
follow = true
[journal]
dir = "$work/journal"
[state]
dir = "$work/state"
[metrics]
listen = ""
EOF
  "$bin" run --config "$work/c.toml" >"$work/out" 2>"$work/err" &
  local pid=$!
  # Wait for the initial load: the input log or checkpoint stops growing.
  local last=-1 now
  for _ in $(seq 1 600); do
    now=$(du -sb "$work/state" 2>/dev/null | cut -f1 || echo 0)
    [ "$now" = "$last" ] && [ "$now" != 0 ] && break
    last=$now; sleep 0.5
  done
  local w0 w1 t0 t1
  w0=$(awk '/^write_bytes/ {print $2}' /proc/$pid/io)
  t0=$(date +%s.%N)
  python3 - "$work/trades.jsonl" "$SECS" <<'PY'
import sys, time
path, secs = sys.argv[1], float(sys.argv[2])
end = time.time() + secs
i = 0
with open(path, "a") as f:
    while time.time() < end:
        ts = 1700000900000 + 2 * i
        f.write('{"id":"o-%d","#shares":10,"client":"c","stock":"S","ts":%d}\n' % (i, ts))
        f.write('{"id":"p-%d","#shares":11,"client":"c","stock":"S","initial_order_id":"o-%d","ts":%d}\n' % (i, i, ts + 1))
        f.flush()
        i += 1
        time.sleep(0.04)
PY
  w1=$(awk '/^write_bytes/ {print $2}' /proc/$pid/io)
  t1=$(date +%s.%N)
  kill -TERM $pid; wait $pid || true
  local ckpts snap
  # The summary is on stderr (on stdout from binaries before it moved
  # there, which OTHER may be).
  ckpts=$(cat "$work/err" "$work/out" | grep -o 'state: [0-9]* checkpoints' | head -n 1 | grep -o '[0-9]*' || echo 0)
  snap=$(stat -c %s "$work/state/checkpoint" 2>/dev/null || echo 0)
  python3 - "$label" "$w0" "$w1" "$t0" "$t1" "$ckpts" "$snap" <<'PY'
import sys
label, w0, w1, t0, t1, ck, snap = sys.argv[1], *map(float, sys.argv[2:])
mins = (t1 - t0) / 60
print(f"{label:8s} {(w1 - w0) / mins / 1e6:10.1f} MB/min written  "
      f"{ck:5.0f} full checkpoints  snapshot {snap / 1e6:.1f} MB  over {t1 - t0:.0f} s")
PY
  rm -rf "$work"
}

echo "== $OPEN open books, one order every 40 ms for $SECS s ($RUNS runs)"
for _ in $(seq 1 "$RUNS"); do
  one this "$B"
  if [ -n "${OTHER:-}" ]; then one other "$OTHER"; fi
done
