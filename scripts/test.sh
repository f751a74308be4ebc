#!/usr/bin/env bash
# The whole test suite: unit, property, integration and CLI tests of every
# crate. Needs only a Rust toolchain (no external services yet).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets "$@"
