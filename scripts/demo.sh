#!/usr/bin/env bash
# Runs the main job on the embedded default configuration: builds the binary
# (release), generates a sample trade file, replays it through the engine into
# a fresh journal, prints the summary and the first alerts, and says where its
# files are. Needs only a Rust toolchain.
#
#   scripts/demo.sh [DIR]      # DIR defaults to target/demo (emptied first)
set -euo pipefail
cd "$(dirname "$0")/.."
# cargo builds into CARGO_TARGET_DIR when it is set: run what it built.
bin=${CARGO_TARGET_DIR:-target}/release/aldebaran
work=${1:-target/demo}

# Say so before cargo goes quiet: a first build compiles every dependency.
if [ -x "$bin" ]; then
  echo "building aldebaran (release; only what changed since the last build)..."
else
  echo "building aldebaran (release): the first build takes about 2.5 minutes on 2 cores..."
fi
start=$SECONDS
cargo build --release --quiet --bin aldebaran
echo "built $bin in $((SECONDS - start)) s"

rm -rf "$work" && mkdir -p "$work"
echo
echo "generating $work/trades.jsonl and replaying it:"
"$bin" gen --orders 20000 --output "$work/trades.jsonl"
"$bin" replay "$work/trades.jsonl" --journal "$work/journal" --dead-letter "$work/dead-letters.jsonl" --quiet
echo
echo "first alerts (aldebaran journal dump $work/journal):"
"$bin" journal dump "$work/journal" | head -n 5
"$bin" journal verify "$work/journal"
echo
echo "output in $work/:"
echo "  trades.jsonl         the generated input"
echo "  journal/             the alert journal (aldebaran journal dump $work/journal)"
echo "  dead-letters.jsonl   the rejected lines, with their position and reason"
