#!/usr/bin/env bash
# Runs the main job on the embedded default configuration: generates a sample
# trade file, replays it through the engine into a fresh journal, prints the
# first alerts and the summary. Needs only a Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin aldebaran
bin=target/release/aldebaran
work=${1:-target/demo}
rm -rf "$work" && mkdir -p "$work"
"$bin" gen --orders 20000 --output "$work/trades.jsonl"
"$bin" replay "$work/trades.jsonl" --journal "$work/journal" --dead-letter "$work/dead-letters.jsonl" --quiet
echo
echo "first alerts (aldebaran journal dump $work/journal):"
"$bin" journal dump "$work/journal" | head -n 5
"$bin" journal verify "$work/journal"
