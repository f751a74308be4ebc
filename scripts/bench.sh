#!/usr/bin/env bash
# The benchmark report, in one command: builds release, generates the inputs,
# runs the throughput, latency, scale, micro-batch sweep, AMQP and delivery
# benchmarks, and writes target/bench-report/index.md with PNG plots and the
# per-batch stats and every table as Parquet (target/bench-report/data/).
#
# Not a test: it prints and writes figures, and asserts none (the machine is
# shared and noisy). Variants are run alternately, RUNS times each, and the
# report gives medians.
#
#   RUNS=5          runs of each throughput and latency variant
#   SWEEP_RUNS=3    runs of each batch_ms × batch_events point
#   SCALE="1000000 10000000 100000000"   events of the scale runs
#   PEERS=1         DuckDB and polars (lazy) over the same file, in a venv
#                   under target/bench (pip); 0 skips them
#   AMQP=1 DELIVERY=1   the broker and sink benchmarks (bench/amqp.sh,
#                   bench/delivery.sh); 0 skips them
#   QUICK=1         small sizes, one run each: checks the command end to end
#
# Needs: a Rust toolchain, python3, and for AMQP/DELIVERY the broker of
# scripts/rabbitmq.sh. The report tool (bench/report) builds polars: its
# first build takes several minutes. It draws text with DejaVu Sans
# (fonts-dejavu-core), installed here when apt-get can.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
SWEEP_RUNS=${SWEEP_RUNS:-3}
SCALE=${SCALE:-"1000000 10000000 100000000"}
PEERS=${PEERS:-1}
AMQP=${AMQP:-1}
DELIVERY=${DELIVERY:-1}
ORDERS=1000000 # the seed file: 1M orders, ~5M events
PACED=1000000  # events/s of the latency runs
if [ "${QUICK:-0}" = 1 ]; then
  RUNS=1 SWEEP_RUNS=1 SCALE="100000 1000000" ORDERS=100000 PACED=200000
fi

out=target/bench-report
data=$out/data
work=target/bench
rm -rf "$out" && mkdir -p "$data" "$work"

echo "== build (release)"
cargo build --release --quiet -p aldebaran -p bench
font=${BENCH_REPORT_FONT:-/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf}
if [ ! -f "$font" ] && command -v apt-get >/dev/null; then
  apt-get install -y -q fonts-dejavu-core >/dev/null 2>&1 || true
fi
CARGO_TARGET_DIR=target/report cargo build --release --quiet --manifest-path bench/report/Cargo.toml
B=target/release/aldebaran
REPORT=target/report/release/bench-report

# A CSV as a table on the terminal (`column` is not on every machine).
show() { column -ts, "$1" 2>/dev/null || cat "$1"; }
# Figures of a replay summary (replay prints it on stdout).
field() { awk -v k="$2" '$0 ~ "^"k" " { print ($NF == "s" ? $(NF-1) : $NF); exit }' "$1"; }
# A summary's percentile line as "p50_us,p99_us,p999_us,max_us".
pcts() {
  awk -v k="$2" '$1 == k { printf "%.1f,%.1f,%.1f,%.1f", $3*1000, $6*1000, $9*1000, $12*1000; exit }' "$1"
}
replay() { # summary file, extra flags... (a fresh journal each time)
  local s=$1; shift
  rm -rf "$work/j"
  "$B" replay --journal "$work/j" -q "$@" >"$s"
}

seed=$work/seed-$ORDERS.jsonl
[ -s "$seed" ] || "$B" gen --orders "$ORDERS" --purchases 4 --open 10000 --seed 7 -o "$seed"
seed_events=$(grep -cv '^[[:space:]]*$' "$seed")
{
  echo "host:    $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "cpu:     $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "date:    $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
  echo "command: RUNS=$RUNS SWEEP_RUNS=$SWEEP_RUNS SCALE=\"$SCALE\" scripts/bench.sh"
  echo "input:   $seed ($seed_events events; aldebaran gen --orders $ORDERS --purchases 4 --open 10000 --seed 7)"
  echo "journal: durable (fsync per group commit, the default) in every replay"
} >"$data/meta.txt"
cat "$data/meta.txt"

# Peers: a venv with DuckDB and polars, made once; skipped with a note.
peers=()
if [ "$PEERS" = 1 ]; then
  venv=$work/venv
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import duckdb, polars' 2>/dev/null; then
    { python3 -m venv "$venv" && "$venv/bin/pip" install -q duckdb polars; } >"$work/pip.log" 2>&1 ||
      echo "peers: could not install duckdb and polars (see $work/pip.log); their rows are skipped" |
      tee -a "$data/meta.txt"
  fi
  if "$venv/bin/python" -c 'import duckdb, polars' 2>/dev/null; then
    peers=(duckdb polars)
  fi
else
  echo "peers: skipped (PEERS=0)" | tee -a "$data/meta.txt"
fi
peer() { # name -> "events,seconds"
  "$venv/bin/python" "bench/peers/$1_overfill.py" "$seed" |
    sed -E 's/.*events=([0-9]+) seconds=([0-9.]+).*/\1,\2/'
}

echo "== throughput: full-speed replay of the seed file, $RUNS alternating runs"
echo "system,run,events,seconds" >"$data/throughput.csv"
for r in $(seq "$RUNS"); do
  replay "$work/s" "$seed"
  echo "aldebaran,$r,$(field "$work/s" events),$(field "$work/s" 'wall time')" >>"$data/throughput.csv"
  replay "$work/s" "$seed" --parse-threads 2
  echo "aldebaran-2-parse-threads,$r,$(field "$work/s" events),$(field "$work/s" 'wall time')" >>"$data/throughput.csv"
  for p in "${peers[@]}"; do
    name=$([ "$p" = polars ] && echo polars-lazy || echo "$p")
    echo "$name,$r,$(peer "$p")" >>"$data/throughput.csv"
  done
done
show "$data/throughput.csv"

echo "== per-batch stats of one full-speed replay"
replay "$work/s" "$seed" --stats "$data/batches.csv"
cp "$work/s" "$data/replay-summary.txt"

echo "== latency: replay paced at $PACED events/s, $RUNS runs"
echo "run,metric,p50_us,p99_us,p999_us,max_us" >"$data/latency.csv"
for r in $(seq "$RUNS"); do
  replay "$work/s" "$seed" --rate "$PACED"
  echo "$r,processing,$(pcts "$work/s" processing)" >>"$data/latency.csv"
  echo "$r,durable,$(pcts "$work/s" latency)" >>"$data/latency.csv"
  echo "$r,fdatasync,$(pcts "$work/s" fsync)" >>"$data/latency.csv"
done
show "$data/latency.csv"

echo "== micro-batch sweep: batch_ms x batch_events, $SWEEP_RUNS runs"
echo "batch_ms,batch_events,run,events_per_s,p99_processing_us,p99_durable_us" >"$data/sweep.csv"
for r in $(seq "$SWEEP_RUNS"); do
  for ms in 0 1 5 20; do
    for ev in 256 1024 16384 131072; do
      replay "$work/s" "$seed" --batch-ms "$ms" --batch-events "$ev"
      eps=$(field "$work/s" events/s)
      replay "$work/s" "$seed" --batch-ms "$ms" --batch-events "$ev" --rate "$PACED"
      p99p=$(pcts "$work/s" processing | cut -d, -f2)
      p99d=$(pcts "$work/s" latency | cut -d, -f2)
      echo "$ms,$ev,$r,$eps,$p99p,$p99d" >>"$data/sweep.csv"
    done
  done
done
show "$data/sweep.csv"

echo "== scale: $SCALE events, event time 1 ms apart, books expiring (book_ttl 60 s)"
echo "events,run,seconds,peak_rss_anon_kib,peak_rss_file_kib,open_books_max" >"$data/scale.csv"
for n in $SCALE; do
  f=$work/scale-$n.jsonl
  [ -s "$f" ] || "$B" gen --orders $((n / 5)) --purchases 4 --open 10000 --seed 11 --ts-step 1 -o "$f"
  rm -rf "$work/j"
  bench/memwatch.py "$work/mem" -- "$B" replay "$f" --journal "$work/j" -q >"$work/s"
  read -r secs anon file_ < <(sed -E 's/seconds=([0-9.]+) peak_rss_anon_kib=([0-9]+) peak_rss_file_kib=([0-9]+)/\1 \2 \3/' "$work/mem")
  echo "$(field "$work/s" events),1,$secs,$anon,$file_,$(field "$work/s" 'peak open')" >>"$data/scale.csv"
  # The 100M-event file is 11 GB: keep only what is cheap to make again.
  [ "$n" -le 10000000 ] || rm -f "$f"
done
show "$data/scale.csv"

# The same 2M events twice: every book open to the end, then books expiring
# after 1 s of event time (a thousand open at a time). Both runs fill the
# ingest ring and cut the same batches, so the difference is the books'.
# Without the drain: closing every book at the end records a tombstone for
# each (SPEC §2), which is the drain's cost, not a book's.
echo "== memory per open book: 1M orders open at once against ~1k (no alerts, no drain)"
books=$work/books.jsonl
[ -s "$books" ] || "$B" gen --orders 1000000 --purchases 1 --open 1000000 --overfill 0 --late 0 \
  --duplicates 0 --malformed 0 --seed 3 -o "$books"
for v in all:100000000000:600000 few:1000:0; do
  IFS=: read -r name ttl tomb <<<"$v"
  rm -rf "$work/j"
  bench/memwatch.py "$work/mem-books-$name" -- "$B" replay "$books" --journal "$work/j" -q \
    --no-drain --book-ttl-ms "$ttl" --tombstone-ttl-ms "$tomb" >"$work/s-books-$name"
done
anon() { sed -E 's/.*peak_rss_anon_kib=([0-9]+).*/\1/' "$work/mem-books-$1"; }
open_all=$(field "$work/s-books-all" 'peak open')
open_few=$(field "$work/s-books-few" 'peak open')
python3 -c "print(f'peak open {$open_all} against {$open_few}: {($(anon all) - $(anon few)) * 1024 / max($open_all - $open_few, 1):.0f} bytes of anonymous memory per open book (a purchase id each; room for 4 in the row)')" |
  tee -a "$data/meta.txt"

if [ "$AMQP" = 1 ]; then
  echo "== AMQP: the broker's ceiling and run's drain, 1 and 100 events per message"
  echo "path,events_per_message,run,events_per_s" >"$data/amqp.csv"
  for r in $(seq "$(( RUNS < 3 ? RUNS : 3 ))"); do
    if [ "${QUICK:-0}" = 1 ]; then
      AMQP_CSV=$data/amqp.csv AMQP_RUN=$r N1=20000 N100=200000 RATE=50000 bench/amqp.sh >"$data/amqp-$r.txt"
    else
      AMQP_CSV=$data/amqp.csv AMQP_RUN=$r bench/amqp.sh >"$data/amqp-$r.txt"
    fi
  done
  show "$data/amqp.csv"
fi

if [ "$DELIVERY" = 1 ]; then
  echo "== delivery: each sink's shipping rate and the detection-to-consumer latency"
  if [ "${QUICK:-0}" = 1 ]; then
    RUNS=1 N=5000 SECS=2 bench/delivery.sh >"$data/delivery.txt" 2>&1
  else
    RUNS=3 N=20000 bench/delivery.sh >"$data/delivery.txt" 2>&1
  fi
  tail -n 20 "$data/delivery.txt"
fi

echo "== report"
"$REPORT" "$data" "$out"
if [ -s "$data/delivery.txt" ]; then
  { echo; echo "## Delivery (bench/delivery.sh)"; echo; echo '```';
    cat "$data/delivery.txt"; echo '```'; } >>"$out/index.md"
fi
for f in "$data"/amqp-*.txt; do
  [ -e "$f" ] || continue
  { echo; echo "### $(basename "$f") (bench/amqp.sh, as printed)"; echo; echo '```'; cat "$f"; echo '```'; } >>"$out/index.md"
done
echo "report: $out/index.md"
