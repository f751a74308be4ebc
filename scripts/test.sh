#!/usr/bin/env bash
# The whole test suite: unit, property, integration, CLI and broker tests of
# every crate. Needs a Rust toolchain; the broker tests need RabbitMQ at
# 127.0.0.1:5672 (guest/guest), which scripts/rabbitmq.sh installs and starts
# when it is missing or not answering. The amqps:// test starts (and stops) a
# TLS node of its own through scripts/rabbitmq-tls.sh, which needs openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/rabbitmq.sh
# --no-fail-fast: a failing test binary must not hide the others' results.
cargo test --workspace --all-targets --no-fail-fast "$@"
# Doc tests (engine/JOBS.md's "Writing a job" example among them): not part
# of --all-targets.
cargo test --workspace --doc --no-fail-fast "$@"
