#!/usr/bin/env bash
# Benchmarks of the active-standby pair (not a test: prints figures only).
# Builds release, then runs target/release/pair (bench/src/bin/pair.rs):
#   cost      a single node, a sync pair and an async pair side by side in
#             each of RUNS rounds: backlog throughput (100 events/message),
#             peak RSS, detection → delivered latency of a steady stream
#             (STEADY events/s) and the HTTP sink's shipping rate in a burst
#             (BURST events/s for 2 s);
#   takeover  KILLS SIGKILLs and SILENT SIGSTOPs of a sync pair's active under
#             a paced stream: last alert shipped by the old active → first
#             shipped by the new, p50 and max.
# Everything runs on this host (broker, publisher, both nodes): on 2 cores
# the pair's second engine competes with the first for CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/rabbitmq.sh
cargo build --release --quiet -p aldebaran -p bench
exec target/release/pair --runs "${RUNS:-3}" --kills "${KILLS:-20}" --silent "${SILENT:-3}" \
  --rate "${RATE:-5000}" --steady-rate "${STEADY:-5000}" --burst-rate "${BURST:-50000}" \
  --backlog "${BACKLOG:-2000000}" "$@"
