#!/usr/bin/env bash
# Scale-out benchmarks (SPEC §8) on the three-node loopback cluster of
# scripts/rabbitmq-cluster.sh (not a test: prints figures only). Every queue
# is a quorum queue. For 1 and for 100 events per input message:
#   ceiling  the broker's own, one hop: `aldebaran publish` fills a quorum
#            queue with N events, then a consumer that only acknowledges
#            drains it (bench/src/bin/amqp_drain.rs);
#   direct   `publish --shards S` fills the S shard queues (one event per
#            message: a message has one routing key), then S `run --shard K`
#            engines drain them;
#   routed   `publish` fills the input queue, then R routers and S engines
#            start: input → route → Aldebaran.Shards → engines, for S in 1 2 3
#            and R in 1 2.
# Each drain is timed from the consumers' start until the engines have
# taken in every event (their metrics; publishing excluded); CPU seconds of the routers, the engines
# and the three broker nodes over the drain give the cost per event of each.
# Everything runs on this host: the three nodes, the routers and the engines
# share its cores, so rates are this machine's, and the costs are what
# extrapolates (bench/README.md, "Scaling out").
set -euo pipefail
cd "$(dirname "$0")/.."
N1=${N1:-60000}       # events at 1 event per message
N100=${N100:-600000}  # events at 100 events per message
SHARDS=${SHARDS:-"1 2 3"}
ROUTERS=${ROUTERS:-"1 2"}
cargo build --release --quiet -p aldebaran -p bench
B=$PWD/target/release/aldebaran
DRAIN=$PWD/target/release/amqp_drain
urls=$(scripts/rabbitmq-cluster.sh start | sed -n 's/^urls=//p')
url1=${urls%%,*}
dir=target/bench-cluster
rm -rf "$dir" && mkdir -p "$dir"
tck=$(getconf CLK_TCK)

ctl() { scripts/rabbitmq-cluster.sh ctl 1 -q "$@"; }
calc() { awk "BEGIN { printf \"%.6f\", $* }"; }

# CPU seconds (user + system) a process has used so far.
cpu() { # pid
  awk -v t="$tck" '{ printf "%.3f", ($14 + $15) / t }' "/proc/$1/stat" 2>/dev/null || echo 0
}
brokers_cpu() {
  local total=0 n p
  for n in 1 2 3; do
    p=$(cat "target/rabbitmq-cluster/c$n/rabbitmq.pid" 2>/dev/null || true)
    [ -n "$p" ] && total=$(calc "$total + $(cpu "$p")")
  done
  echo "$total"
}
sum_cpu() { # pids...
  local total=0 p
  for p in "$@"; do total=$(calc "$total + $(cpu "$p")"); done
  echo "$total"
}

reset() {
  local q
  for q in $(ctl list_queues name | grep -E '^(Aldebaran\.|bench-)' || true); do
    ctl delete_queue "$q" >/dev/null
  done
}

# Waits until the engines have taken in `want` events between them
# (aldebaran_events_in_total on their /metrics): the broker's own queue
# counts are statistics, emitted every few seconds, too late to time by.
wait_events() { # want
  local k ports=""
  for k in $(seq 0 $((${#engines[@]} - 1))); do
    ports="$ports${ports:+,}$((19100 + k))"
  done
  bench/events_in.py --ports "$ports" --until "$1" --every 0.05
}

start_engines() { # shards; sets engines
  engines=()
  local k
  for k in $(seq 0 $(($1 - 1))); do
    cat >"$dir/shard-$k.toml" <<TOML
[source]
kind = "amqp"
[source.amqp]
url = "$urls"
queue_type = "quorum"
prefetch = 20000
[journal]
dir = "$dir/shard-$k/journal"
[state]
dir = "$dir/shard-$k/state"
[metrics]
listen = "127.0.0.1:$((19100 + k))"
TOML
    rm -rf "$dir/shard-$k"
    "$B" run --shard "$k" --config "$dir/shard-$k.toml" >"$dir/shard-$k.out" 2>"$dir/shard-$k.err" &
    engines+=($!)
  done
}

start_routers() { # routers shards; sets routers
  routers=()
  local i
  for i in $(seq 1 "$1"); do
    "$B" route --url "$urls" --shards "$2" --queue-type quorum --prefetch 2000 \
      >"$dir/router-$i.out" 2>"$dir/router-$i.err" &
    routers+=($!)
  done
}

stop_all() {
  local p
  for p in "${routers[@]}" "${engines[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${routers[@]}" "${engines[@]}"; do wait "$p" 2>/dev/null || true; done
}

# Prints the figures of one drain of `n` events that took from t0 to now.
report() { # label n t0 b0 r0 e0
  local secs b r e
  secs=$(calc "$(date +%s.%N) - $3")
  b=$(calc "$(brokers_cpu) - $4")
  r=$(calc "$(sum_cpu "${routers[@]}") - $5")
  e=$(calc "$(sum_cpu "${engines[@]}") - $6")
  printf '  %-28s %8.0f events/s  (%6.2f s)   CPU µs/event: broker %5.1f  router %5.1f  engine %5.1f\n' \
    "$1" "$(calc "$2 / $secs")" "$secs" \
    "$(calc "$b * 1000000 / $2")" "$(calc "$r * 1000000 / $2")" \
    "$(calc "$e * 1000000 / $2")"
}

for epm in 1 100; do
  n=$([ "$epm" = 1 ] && echo "$N1" || echo "$N100")
  "$B" gen --orders $((n / 5)) --open 10000 --seed 7 -o "$dir/in-$epm.jsonl" 2>/dev/null
  n=$(grep -c . "$dir/in-$epm.jsonl")
  # The lines the parser accepts: all that reach the engines past a router.
  accepted=$("$B" replay "$dir/in-$epm.jsonl" -q --journal "$dir/replay-$epm" | awk '$1 == "accepted" { print $2 }')
  echo "== $epm event(s) per input message, $n events"

  reset
  q=bench-ceiling-$epm
  "$B" declare --url "$urls" --queue "$q" --queue-type quorum >/dev/null
  "$B" publish "$dir/in-$epm.jsonl" --url "$urls" --queue "$q" --batch "$epm" --in-flight 512 --queue-type quorum >/dev/null
  b0=$(brokers_cpu)
  echo "  ceiling (null consumer)      $("$DRAIN" --url "$url1" --queue "$q" --events-per-message "$epm")"
  echo "                               broker CPU µs/event: $(calc "($(brokers_cpu) - $b0) * 1000000 / $n")"

  for s in $SHARDS; do
    if [ "$epm" = 1 ]; then
      reset
      "$B" declare --url "$urls" --queue-type quorum --shards "$s" >/dev/null
      "$B" publish "$dir/in-$epm.jsonl" --url "$urls" --shards "$s" --in-flight 512 --queue-type quorum >/dev/null
      routers=()
      b0=$(brokers_cpu); t0=$(date +%s.%N)
      start_engines "$s"
      wait_events "$n"
      report "direct, $s shard(s)" "$n" "$t0" "$b0" 0 0
      stop_all
    fi
    for r in $ROUTERS; do
      reset
      "$B" declare --url "$urls" --queue-type quorum --shards "$s" >/dev/null
      "$B" publish "$dir/in-$epm.jsonl" --url "$urls" --batch "$epm" --in-flight 512 --queue-type quorum >/dev/null
      b0=$(brokers_cpu); t0=$(date +%s.%N)
      start_engines "$s"
      start_routers "$r" "$s"
      wait_events "$accepted"
      report "routed, $s shard(s), $r router(s)" "$n" "$t0" "$b0" 0 0
      stop_all
    done
  done
done
reset
