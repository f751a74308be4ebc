#!/usr/bin/env bash
# Makes sure a RabbitMQ broker answers on 127.0.0.1:5672 (the address the
# tests and the default config use): installs rabbitmq-server with apt-get if
# it is missing, starts it detached if it is not answering, and waits for it.
# Idempotent; prints nothing on success, one line on stderr on failure.
#
# Environment: RABBITMQ_WAIT_SECS (default 120) bounds the wait for startup;
# RABBITMQ_NODE_PORT (default 5672) is the port to check, as for the broker.
set -euo pipefail

host=127.0.0.1
port=${RABBITMQ_NODE_PORT:-5672}
wait_secs=${RABBITMQ_WAIT_SECS:-120}

answers() {
    timeout 2 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null
}

fail() {
    echo "rabbitmq.sh: $*" >&2
    exit 1
}

answers && exit 0

if ! command -v rabbitmq-server >/dev/null 2>&1; then
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || fail "rabbitmq-server is missing and installing it needs root"
        sudo=(sudo -n)
    fi
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    if ! { "${sudo[@]}" apt-get update && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y rabbitmq-server; } >"$log" 2>&1; then
        fail "installing rabbitmq-server with apt-get failed: $(tail -n 1 "$log")"
    fi
    # The Debian package may start the broker itself (where there is an init).
    answers && exit 0
fi

# A node that is booting already answers `rabbitmqctl ping`; start one only
# when none runs, so two callers at once do not start two.
if ! timeout 20 rabbitmqctl -q ping >/dev/null 2>&1; then
    rabbitmq-server -detached >/dev/null 2>&1 || fail "rabbitmq-server -detached failed"
fi
# Right after -detached the node is not reachable yet and await_startup fails
# at once: retry it until the deadline.
deadline=$((SECONDS + wait_secs))
until timeout 60 rabbitmqctl -q await_startup --timeout 50 >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] ||
        fail "the broker did not start within ${wait_secs} s (rabbitmq-diagnostics log_location)"
    sleep 1
done

# await_startup returns once the node boots; the listener follows at once.
for _ in $(seq 1 50); do
    answers && exit 0
    sleep 0.2
done
fail "the broker started but does not answer on $host:$port"
