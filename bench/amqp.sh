#!/usr/bin/env bash
# RabbitMQ benchmarks of `aldebaran run` (not a test: prints figures only).
#
# For 1 and for 100 events per message, side by side in one run:
#   ceiling  the broker's own: publish N events (persistent, confirms, the
#            same publisher as the service's users), then a consumer that only
#            acknowledges drains the queue (bench/src/bin/amqp_drain.rs);
#   service  publish the same N events, then `aldebaran run` drains the queue
#            into the journal (acks after durability); events/s from its
#            first event to its last, read off its aldebaran_events_in_total
#            (its /metrics, polled every 20 ms by bench/events_in.py), as
#            the ceiling is timed from its first delivery to its last;
#   paced    100 events per message published at RATE events/s while the
#            service runs: its ingest→durable latency p50/p99/p99.9 (from the
#            moment the consumer received a message to its alerts durable).
# Publishing is excluded from the drain timings. Queues are unique and deleted.
set -euo pipefail
cd "$(dirname "$0")/.."
N1=${N1:-200000}        # events for 1 event per message
N100=${N100:-2000000}   # events for 100 events per message
RATE=${RATE:-250000}
# AMQP_CSV=FILE appends `path,events_per_message,run,events_per_s` rows
# (path: ceiling or run) for the benchmark report; AMQP_RUN names the run.
AMQP_CSV=${AMQP_CSV:-}
AMQP_RUN=${AMQP_RUN:-1}
PORT=19190
scripts/rabbitmq.sh
cargo build --release --quiet -p aldebaran -p bench
B=target/release/aldebaran
dir=target/bench-amqp
rm -rf "$dir" && mkdir -p "$dir"

start_service() { # queue; sets pid
  local q=$1
  cat > "$dir/$q.toml" <<TOML
[source.amqp]
queue = "$q"
prefetch = 20000
[journal]
dir = "$dir/$q-journal"
[metrics]
listen = "127.0.0.1:$PORT"
[state]
dir = "$dir/$q-state"
TOML
  "$B" run --config "$dir/$q.toml" > "$dir/$q.out" 2> "$dir/$q.err" &
  pid=$!
}

# events; prints events/s from the service's first event to its last, as
# amqp_drain times the ceiling (first delivery to last), so neither counts
# its start and connect (its /metrics polled every 20 ms by one process, not
# by a curl each time: that cost ~40% of a core beside the broker)
drain_rate() {
  bench/events_in.py --ports "$PORT" --until "$1" --rate
}

stop_when_drained() { # queue; prints the service's summary figures
  local q=$1 m u
  while :; do
    read -r m u < <(rabbitmqctl list_queues name messages messages_unacknowledged 2>/dev/null | awk -v q="$q" '$1==q {print $2, $3}')
    [ "${m:-1}" = 0 ] && [ "${u:-1}" = 0 ] && break
    sleep 0.2
  done
  kill -TERM "$pid"; wait "$pid"
  grep -E "^(events  |latency|processing)" "$dir/$q.err" | sed 's/^/    /'
}

csv() { [ -z "$AMQP_CSV" ] || echo "$1,$2,$AMQP_RUN,$3" >> "$AMQP_CSV"; }

for epm in 1 100; do
  n=$([ "$epm" = 1 ] && echo "$N1" || echo "$N100")
  orders=$(( n / 5 ))
  "$B" gen --orders "$orders" --open 10000 --seed 7 -o "$dir/in-$epm.jsonl" 2>/dev/null
  echo "== $epm event(s) per message, $(wc -l < "$dir/in-$epm.jsonl") events"
  q=aldebaran-bench-ceiling-$epm-$$
  "$B" declare --queue "$q" >/dev/null
  echo "  publish: $("$B" publish "$dir/in-$epm.jsonl" --queue "$q" --batch "$epm" --in-flight 512)"
  ceiling=$(target/release/amqp_drain --queue "$q" --events-per-message "$epm")
  echo "  ceiling: $ceiling"
  csv ceiling "$epm" "$(sed -E 's/.* ([0-9]+) events\/s$/\1/' <<<"$ceiling")"
  rabbitmqctl delete_queue "$q" >/dev/null
  q=aldebaran-bench-service-$epm-$$
  "$B" declare --queue "$q" >/dev/null
  echo "  publish: $("$B" publish "$dir/in-$epm.jsonl" --queue "$q" --batch "$epm" --in-flight 512)"
  echo "  service (drains a full queue):"
  events=$(grep -cv '^[[:space:]]*$' "$dir/in-$epm.jsonl")
  start_service "$q"
  rate=$(drain_rate "$events")
  echo "    drained at $rate events/s"
  csv run "$epm" "$rate"
  stop_when_drained "$q"
  rabbitmqctl delete_queue "$q" >/dev/null
done

echo "== paced: 100 events per message at $RATE events/s"
q=aldebaran-bench-paced-$$
"$B" declare --queue "$q" >/dev/null
start_service "$q"
sleep 1
echo "  publish: $("$B" publish "$dir/in-100.jsonl" --queue "$q" --batch 100 --rate "$RATE")"
stop_when_drained "$q"
rabbitmqctl delete_queue "$q" >/dev/null
