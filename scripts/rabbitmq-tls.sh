#!/usr/bin/env bash
# A RabbitMQ node with a TLS listener on loopback, for the amqps:// tests:
# a test CA, a server certificate for localhost and 127.0.0.1, a client
# certificate, and a second CA with a client certificate of its own (what a
# client or a broker must refuse), all made with openssl; then a node of its
# own, apart from the default one that scripts/rabbitmq.sh runs on 5672.
#
#   scripts/rabbitmq-tls.sh [--dir DIR] start    make the certificates, start the node, wait for it
#   scripts/rabbitmq-tls.sh [--dir DIR] stop     stop the node (nothing running is not an error)
#   scripts/rabbitmq-tls.sh [--dir DIR] status   exit 0 if the node answers on its TLS port
#   scripts/rabbitmq-tls.sh [--dir DIR] ctl ARG… rabbitmqctl against this node (list_queues, …)
#
# Idempotent: `start` makes only the certificates that are missing or expire
# within a day (and then restarts a running node), and reuses a node that
# already answers. It prints, on success, `key=value` lines: the amqps:// and
# plain URLs and the certificate files. Everything lives in DIR (default
# target/rabbitmq-tls): certs/, the node's config, data, logs and Erlang
# cookie (its own, in DIR/node; the default node's is never read).
#
# The node: name aldebaran-tls@localhost, TLS on 127.0.0.1:5681, plain AMQP on
# 127.0.0.1:5682, distribution on 127.0.0.1:25682; rabbitmqctl uses ports
# 35692-35702 (the default node's tools use 35672-35682). The TLS listener
# asks for a client certificate and checks any it gets against the test CA
# (verify_peer), but lets a client without one in (fail_if_no_peer_cert
# false), as Amazon MQ does: then the password is the only credential.
#
# Environment: RABBITMQ_TLS_PORT, RABBITMQ_TLS_PLAIN_PORT,
# RABBITMQ_TLS_DIST_PORT and RABBITMQ_TLS_NODENAME override the above;
# RABBITMQ_WAIT_SECS (default 120) bounds the wait for startup.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=$root/target/rabbitmq-tls
if [ "${1:-}" = "--dir" ]; then
    [ $# -ge 2 ] || { echo "rabbitmq-tls.sh: --dir needs a directory" >&2; exit 2; }
    dir=$2
    shift 2
fi
cmd=${1:-start}
[ $# -gt 0 ] && shift

host=127.0.0.1
tls_port=${RABBITMQ_TLS_PORT:-5681}
plain_port=${RABBITMQ_TLS_PLAIN_PORT:-5682}
dist_port=${RABBITMQ_TLS_DIST_PORT:-25682}
node=${RABBITMQ_TLS_NODENAME:-aldebaran-tls@localhost}
wait_secs=${RABBITMQ_WAIT_SECS:-120}

fail() {
    echo "rabbitmq-tls.sh: $*" >&2
    exit 1
}

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
certs=$dir/certs
home=$dir/node

# The package's scripts themselves, not Debian's /usr/sbin wrappers: those
# switch to the rabbitmq user, whose home holds the default node's cookie
# and whose rights do not reach DIR.
bin=/usr/lib/rabbitmq/bin
[ -x "$bin/rabbitmq-server" ] || bin=$(dirname "$(command -v rabbitmq-server 2>/dev/null || echo /nonexistent/x)")

# Everything a rabbitmq script of this node needs to find its files.
node_env() {
    export HOME=$home
    export RABBITMQ_NODENAME=$node
    export RABBITMQ_NODE_IP_ADDRESS=$host
    export RABBITMQ_NODE_PORT=$plain_port
    export RABBITMQ_DIST_PORT=$dist_port
    export RABBITMQ_CONF_ENV_FILE=$home/rabbitmq-env.conf
    export RABBITMQ_CONFIG_FILE=$home/rabbitmq.conf
    export RABBITMQ_ADVANCED_CONFIG_FILE=$home/advanced.config
    export RABBITMQ_ENABLED_PLUGINS_FILE=$home/enabled_plugins
    export RABBITMQ_MNESIA_BASE=$home/mnesia
    export RABBITMQ_LOG_BASE=$home/log
    export RABBITMQ_PID_FILE=$home/rabbitmq.pid
    export RABBITMQ_CTL_DIST_PORT_MIN=$((dist_port + 10010))
    export RABBITMQ_CTL_DIST_PORT_MAX=$((dist_port + 10020))
    export ERL_EPMD_ADDRESS=$host
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

ctl() {
    (node_env && timeout 60 "$bin/rabbitmqctl" -n "$node" "$@")
}

answers() {
    timeout 2 bash -c "exec 3<>/dev/tcp/$host/$1" 2>/dev/null
}

# `openssl x509 -checkend`: valid for at least another day.
fresh() {
    [ -s "$1" ] && openssl x509 -in "$1" -noout -checkend 86400 >/dev/null 2>&1
}

# A CA: self-signed, P-256, ten years.
make_ca() { # name subject
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$certs/$1.key" -out "$certs/$1.pem" -days 3650 -subj "$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}

# A leaf certificate signed by CA `ca`, with the extensions in `ext`.
make_leaf() { # name ca subject ext
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$certs/$1.key" -out "$certs/$1.csr" -subj "$3"
    printf '%s\n' "$4" >"$certs/$1.ext"
    openssl x509 -req -in "$certs/$1.csr" -CA "$certs/$2.pem" -CAkey "$certs/$2.key" \
        -CAcreateserial -out "$certs/$1.pem" -days 825 -extfile "$certs/$1.ext"
    rm -f "$certs/$1.csr" "$certs/$1.ext"
}

# As scripts/rabbitmq.sh installs the broker: with apt-get, as root or
# through sudo -n.
install_openssl() {
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || fail "openssl is missing and installing it needs root"
        sudo=(sudo -n)
    fi
    { "${sudo[@]}" apt-get update && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y openssl; } \
        >"$dir/apt.log" 2>&1 || fail "installing openssl with apt-get failed: $(tail -n 1 "$dir/apt.log")"
}

# Makes every certificate again if one is missing or about to expire; says
# whether it did.
make_certs() {
    local all=(ca server client wrong-ca wrong-client) f
    for f in "${all[@]}"; do
        fresh "$certs/$f.pem" || break
        f=
    done
    [ -z "$f" ] && return 1
    command -v openssl >/dev/null 2>&1 || install_openssl
    rm -rf "$certs" && mkdir -p "$certs"
    local log=$dir/openssl.log
    {
        make_ca ca "/CN=Aldebaran test CA"
        make_leaf server ca "/CN=localhost" \
            "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1"
        make_leaf client ca "/CN=aldebaran-test-client" \
            "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
        make_ca wrong-ca "/CN=Aldebaran wrong CA"
        make_leaf wrong-client wrong-ca "/CN=aldebaran-wrong-client" \
            "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
    } >"$log" 2>&1 || fail "openssl failed (see $log)"
    # The node reads its key; the test client reads its own.
    chmod 600 "$certs"/*.key
    return 0
}

# The node's config files, written only when their content changes; says
# whether one did.
write_config() {
    mkdir -p "$home" "$home/mnesia" "$home/log"
    local changed=1 want
    if [ ! -s "$home/.erlang.cookie" ]; then
        # A cookie of its own: rabbitmqctl of this node reads it from HOME.
        (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$home/.erlang.cookie")
        chmod 400 "$home/.erlang.cookie"
    fi
    want="# Written by scripts/rabbitmq-tls.sh.
listeners.tcp.default = $host:$plain_port
listeners.ssl.default = $host:$tls_port
ssl_options.cacertfile = $certs/ca.pem
ssl_options.certfile = $certs/server.pem
ssl_options.keyfile = $certs/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = false
ssl_options.depth = 2
# A test node: small, quiet, and never in the way of the default one.
vm_memory_high_watermark.relative = 0.2
disk_free_limit.absolute = 50MB
log.file.level = warning
log.console = false"
    if [ "$(cat "$home/rabbitmq.conf" 2>/dev/null)" != "$want" ]; then
        printf '%s\n' "$want" >"$home/rabbitmq.conf"
        changed=0
    fi
    # No plugins, and none of /etc/rabbitmq's settings (the default node's).
    [ -f "$home/enabled_plugins" ] || echo '[].' >"$home/enabled_plugins"
    [ -f "$home/rabbitmq-env.conf" ] || echo '# Empty: scripts/rabbitmq-tls.sh sets the environment.' >"$home/rabbitmq-env.conf"
    return $changed
}

running() {
    ctl -q ping >/dev/null 2>&1
}

stop_node() {
    if running; then
        ctl -q stop "$home/rabbitmq.pid" >/dev/null 2>&1 || true
    fi
    # A node that no longer answers but still runs (its pid file says which,
    # and its command line names this node): end it.
    local pid
    pid=$(cat "$home/rabbitmq.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$node"; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$home/rabbitmq.pid"
}

print_env() {
    echo "url=amqps://guest:guest@$host:$tls_port/%2f"
    echo "plain_url=amqp://guest:guest@$host:$plain_port/%2f"
    echo "ca_file=$certs/ca.pem"
    echo "cert_file=$certs/client.pem"
    echo "key_file=$certs/client.key"
    echo "wrong_ca_file=$certs/wrong-ca.pem"
    echo "wrong_cert_file=$certs/wrong-client.pem"
    echo "wrong_key_file=$certs/wrong-client.key"
    echo "node=$node"
}

start() {
    if [ ! -x "$bin/rabbitmq-server" ]; then
        # Installs the package (and starts the default node, which the rest
        # of the suite needs anyway).
        "$root/scripts/rabbitmq.sh" || fail "rabbitmq-server is not installed"
        bin=/usr/lib/rabbitmq/bin
        [ -x "$bin/rabbitmq-server" ] || bin=$(dirname "$(command -v rabbitmq-server)")
    fi
    local restart=1
    make_certs && restart=0
    write_config && restart=0
    if running; then
        if [ $restart -eq 0 ]; then
            stop_node
        elif answers "$tls_port"; then
            print_env
            return 0
        fi
    fi
    for port in "$tls_port" "$plain_port" "$dist_port"; do
        if answers "$port"; then
            fail "port $port on $host is taken by something that is not node $node of $dir" \
                "(another checkout's node? stop it with its own scripts/rabbitmq-tls.sh stop," \
                "or set RABBITMQ_TLS_PORT, RABBITMQ_TLS_PLAIN_PORT, RABBITMQ_TLS_DIST_PORT)"
        fi
    done
    # Not `-detached` alone: its output (and a start that fails at once) goes
    # to a file the error can name.
    (node_env && cd "$home" && "$bin/rabbitmq-server" -detached) >"$home/log/start.out" 2>&1 ||
        fail "rabbitmq-server -detached failed: $(tail -n 3 "$home/log/start.out")"
    local deadline=$((SECONDS + wait_secs))
    until ctl -q await_startup --timeout 50 >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] ||
            fail "node $node did not start within ${wait_secs} s (logs in $home/log)"
        sleep 1
    done
    for _ in $(seq 1 50); do
        if answers "$tls_port"; then
            print_env
            return 0
        fi
        sleep 0.2
    done
    fail "node $node started but does not answer on $host:$tls_port (logs in $home/log)"
}

case $cmd in
start) start ;;
stop) stop_node ;;
status) running && answers "$tls_port" ;;
ctl) ctl "$@" ;;
env) print_env ;;
*)
    echo "usage: $0 [--dir DIR] start|stop|status|env|ctl ARGS..." >&2
    exit 2
    ;;
esac
