#!/usr/bin/env bash
# Alert delivery benchmarks (not a test: prints figures only; the results are
# on stderr). bench/src/bin/delivery.rs says exactly what each figure covers.
#
#   throughput  per sink kind (file, stdout, amqp, http, command, smtp): one
#               shipper ships a journal pre-filled with N alert records from an
#               empty cursor to an endpoint inside the bench process (a temp
#               file with fsync, stdout = /dev/null here, the local RabbitMQ
#               broker, a tiny_http server answering 200, `sh -c 'cat >
#               /dev/null'` per alert, a minimal SMTP server); alerts/s from
#               spawn to the cursor reaching N; RUNS runs each, median shown.
#               command and smtp use smaller N (a process / a connection and a
#               ~40 ms TCP stall per alert).
#   latency     `aldebaran run` following a file written at RATE alerts/s
#               within EVENTS events/s for SECS s, sinks file + amqp; latency
#               from the write of each triggering purchase to the alert's
#               arrival at a consumer in the bench; RUNS runs, medians shown.
#
# Environment: RUNS (3), N (100000), N_COMMAND (2000), N_SMTP (500),
# RATE (2000), EVENTS (20000), SECS (10), KINDS (all).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
N=${N:-100000}
N_COMMAND=${N_COMMAND:-2000}
N_SMTP=${N_SMTP:-500}
RATE=${RATE:-2000}
EVENTS=${EVENTS:-20000}
SECS=${SECS:-10}
KINDS=${KINDS:-file,stdout,amqp,http,command,smtp}
scripts/rabbitmq.sh
cargo build --release --quiet -p aldebaran -p bench
dir=target/bench-delivery
rm -rf "$dir" && mkdir -p "$dir"

# The stdout sink writes to the real stdout: send it to /dev/null (the
# figures are printed on stderr).
target/release/delivery --dir "$dir" throughput --kinds "$KINDS" --runs "$RUNS" \
    --n "$N" --n-command "$N_COMMAND" --n-smtp "$N_SMTP" > /dev/null
echo >&2
target/release/delivery --dir "$dir" latency --bin target/release/aldebaran \
    --runs "$RUNS" --rate "$RATE" --events "$EVENTS" --secs "$SECS"
rm -rf "$dir"
