#!/usr/bin/env bash
# A three-node RabbitMQ cluster on loopback, for the tests and benchmarks of
# quorum queues and of a broker node that goes away: three nodes of their
# own, apart from the default one that scripts/rabbitmq.sh runs on 5672 (and
# from the TLS node of scripts/rabbitmq-tls.sh), clustered by hand.
#
#   scripts/rabbitmq-cluster.sh [--dir DIR] start          start the nodes that are not running, cluster them, wait
#   scripts/rabbitmq-cluster.sh [--dir DIR] stop           stop the three (nothing running is not an error)
#   scripts/rabbitmq-cluster.sh [--dir DIR] status         exit 0 if all three answer and run in one cluster
#   scripts/rabbitmq-cluster.sh [--dir DIR] env            print the key=value lines that `start` prints
#   scripts/rabbitmq-cluster.sh [--dir DIR] stop-node N    stop node N (1, 2, 3 or its full name) with rabbitmqctl stop
#   scripts/rabbitmq-cluster.sh [--dir DIR] kill-node N    SIGKILL node N's Erlang VM, as a crash would
#   scripts/rabbitmq-cluster.sh [--dir DIR] start-node N   start node N again, wait until it runs in the cluster
#   scripts/rabbitmq-cluster.sh [--dir DIR] leader QUEUE [VHOST]
#                                                          print the number (1, 2, 3) of the node that leads
#                                                          quorum queue QUEUE (in VHOST, default /)
#   scripts/rabbitmq-cluster.sh [--dir DIR] ctl N ARG…     rabbitmqctl against node N (list_queues, …)
#
# Idempotent: `start` reuses the nodes that already answer, starts the others
# all at once (a new node boots alone; a node of the cluster that did not
# stop last waits at boot for one that did), joins to node 1 (stop_app,
# join_cluster, start_app) each node that is not a member, and waits until
# all three run in one cluster. It prints, on success, `key=value` lines:
# the three amqp:// URLs (comma-separated in `urls`, one by one in
# url1..url3) and the node names (node1..node3). `start-node` after a
# `stop-node` or `kill-node` needs no join: the node finds its cluster in its
# own data and comes back into it. Without DIR/c1 (removed), `start` makes a
# new cluster: nodes 2 and 3 are stopped and lose their data too. A VM of a
# node's name whose directory was removed while it ran (a deleted checkout's,
# or a DIR made again) holds the ports and answers to no cookie left:
# `start` kills it first. A node of another DIR that exists makes `start`
# fail instead: stop it with its own script.
#
# Everything lives in DIR (default target/rabbitmq-cluster): DIR/home holds
# the one Erlang cookie the three nodes and their rabbitmqctl share (the
# default node's is never read), DIR/c1..c3 each node's config, data
# (mnesia), logs and pid file.
#
# The nodes: aldebaran-c1@localhost, aldebaran-c2@localhost and
# aldebaran-c3@localhost; AMQP on 127.0.0.1:5701, 5702 and 5703;
# distribution on 127.0.0.1:25701, 25702 and 25703; rabbitmqctl uses ports
# 35711-35720 for node 1, 35721-35730 for node 2 and 35731-35740 for node 3
# (the default node's tools use 35672-35682, the TLS node's 35692-35702).
# The plugin rabbitmq_consistent_hash_exchange is enabled on each; guest
# (guest/guest) may log in, from loopback only, as on the default node.
# Partitions are handled with pause_minority (see the config below): with
# one node down the other two go on; with two down, the third pauses (its
# VM answers, its AMQP port closes) until one of them is back.
#
# Environment: RABBITMQ_CLUSTER_PORT (first AMQP port, default 5701),
# RABBITMQ_CLUSTER_DIST_PORT (default 25701), RABBITMQ_CLUSTER_CTL_PORT
# (default 35711) and RABBITMQ_CLUSTER_NAME (default aldebaran-c, the nodes
# are NAME1@localhost..NAME3@localhost) override the above, node N taking
# the first port + N - 1 (+ 10 × (N - 1) for rabbitmqctl's ranges);
# RABBITMQ_WAIT_SECS (default 180) bounds each wait for the nodes.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=$root/target/rabbitmq-cluster
if [ "${1:-}" = "--dir" ]; then
    [ $# -ge 2 ] || { echo "rabbitmq-cluster.sh: --dir needs a directory" >&2; exit 2; }
    dir=$2
    shift 2
fi
cmd=${1:-start}
[ $# -gt 0 ] && shift

host=127.0.0.1
amqp_base=${RABBITMQ_CLUSTER_PORT:-5701}
dist_base=${RABBITMQ_CLUSTER_DIST_PORT:-25701}
ctl_base=${RABBITMQ_CLUSTER_CTL_PORT:-35711}
prefix=${RABBITMQ_CLUSTER_NAME:-aldebaran-c}
wait_secs=${RABBITMQ_WAIT_SECS:-180}
all=(1 2 3)

fail() {
    echo "rabbitmq-cluster.sh: $*" >&2
    exit 1
}

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
home=$dir/home

# The package's scripts themselves, not Debian's /usr/sbin wrappers: those
# switch to the rabbitmq user, whose home holds the default node's cookie
# and whose rights do not reach DIR.
bin=/usr/lib/rabbitmq/bin
[ -x "$bin/rabbitmq-server" ] || bin=$(dirname "$(command -v rabbitmq-server 2>/dev/null || echo /nonexistent/x)")

name() { echo "$prefix$1@localhost"; }
amqp_port() { echo $((amqp_base + $1 - 1)); }
dist_port() { echo $((dist_base + $1 - 1)); }
url() { echo "amqp://guest:guest@$host:$(amqp_port "$1")/%2f"; }
node_dir() { echo "$dir/c$1"; }

# Node N from 1, 2, 3 or a full node name.
index() {
    local i
    for i in "${all[@]}"; do
        if [ "$1" = "$i" ] || [ "$1" = "$(name "$i")" ]; then
            echo "$i"
            return 0
        fi
    done
    fail "no node '$1' (1, 2, 3, $(name 1), $(name 2) or $(name 3))"
}

# Everything a rabbitmq script of node N needs to find its files; the shared
# HOME gives the server and rabbitmqctl the same cookie.
node_env() {
    local d
    d=$(node_dir "$1")
    export HOME=$home
    export RABBITMQ_NODENAME
    RABBITMQ_NODENAME=$(name "$1")
    export RABBITMQ_NODE_IP_ADDRESS=$host
    export RABBITMQ_NODE_PORT
    RABBITMQ_NODE_PORT=$(amqp_port "$1")
    export RABBITMQ_DIST_PORT
    RABBITMQ_DIST_PORT=$(dist_port "$1")
    export RABBITMQ_CONF_ENV_FILE=$d/rabbitmq-env.conf
    export RABBITMQ_CONFIG_FILE=$d/rabbitmq.conf
    export RABBITMQ_ADVANCED_CONFIG_FILE=$d/advanced.config
    export RABBITMQ_ENABLED_PLUGINS_FILE=$d/enabled_plugins
    export RABBITMQ_MNESIA_BASE=$d/mnesia
    export RABBITMQ_LOG_BASE=$d/log
    export RABBITMQ_PID_FILE=$d/rabbitmq.pid
    export RABBITMQ_CTL_DIST_PORT_MIN=$((ctl_base + 10 * ($1 - 1)))
    export RABBITMQ_CTL_DIST_PORT_MAX=$((ctl_base + 10 * ($1 - 1) + 9))
    export ERL_EPMD_ADDRESS=$host
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

# rabbitmqctl against node N: ctl_n N SECONDS ARG…
ctl_n() {
    local i=$1 secs=$2
    shift 2
    (node_env "$i" && timeout "$secs" "$bin/rabbitmqctl" -n "$(name "$i")" "$@")
}

ctl() {
    local i=$1
    shift
    ctl_n "$i" 60 "$@"
}

answers() {
    timeout 2 bash -c "exec 3<>/dev/tcp/$host/$1" 2>/dev/null
}

# Scratch files of this run (the probes' answers).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The Erlang VM of node N answers (its rabbit application may be stopped:
# booting, paused in a minority, or after stop_app).
running() {
    ctl "$1" -q ping >/dev/null 2>&1
}

# Asks node N for its cluster_status: its state becomes `running` (the
# rabbit application runs: the answer is kept), `up` (the VM answers, the
# application does not run) or `down` (also, without asking, when no VM of
# node N runs: every boot writes the pid file).
probe_one() {
    local i=$1
    rm -f "$tmp/$i.json" "$tmp/$i.state"
    if ! live_pid "$i" >/dev/null; then
        echo down >"$tmp/$i.state"
    elif ctl "$i" -q cluster_status --formatter json >"$tmp/$i.json" 2>/dev/null; then
        echo running >"$tmp/$i.state"
    elif running "$i"; then
        echo up >"$tmp/$i.state"
    else
        echo down >"$tmp/$i.state"
    fi
}

# Probes the three nodes at once (rabbitmqctl takes a second or two).
probe() {
    local i pids=()
    for i in "${all[@]}"; do
        probe_one "$i" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do
        wait "$i" || true
    done
}

state() {
    cat "$tmp/$1.state" 2>/dev/null || echo down
}

# The nodes of a list (`running_nodes` or `disk_nodes`) of node N's last
# probe, one a line; nothing unless node N was running.
listed() { # N key
    [ "$(state "$1")" = running ] || return 0
    tr -d ' \n' <"$tmp/$1.json" | grep -o "\"$2\":\[[^]]*\]" | grep -o '"[^"]*@[^"]*"' | tr -d '"' || true
}

# Node N was running, in a cluster whose running nodes include all the
# names given.
runs_with() { # N name…
    local i=$1 list n
    shift
    [ "$(state "$i")" = running ] || return 1
    list=$(listed "$i" running_nodes)
    for n in "$(name "$i")" "$@"; do
        grep -qxF "$n" <<<"$list" || return 1
    done
}

# All three run in one cluster, as node 1 sees it (one rabbitmqctl, not
# three: its running nodes are those of its cluster whose application runs,
# and with no partition the other two see the same).
cluster_ok() {
    probe_one 1
    runs_with 1 "$(name 1)" "$(name 2)" "$(name 3)" &&
        tr -d ' \n' <"$tmp/1.json" | grep -q '"partitions":{}'
}

# The members of node N's cluster (itself included), one a line: from its
# probe if it was running, else from its data (rabbitmqctl eval works while
# the application is stopped).
members() {
    if [ "$(state "$1")" = running ]; then
        listed "$1" disk_nodes
    else
        ctl "$1" -q eval 'rabbit_mnesia:cluster_nodes(all).' 2>/dev/null | tr -d "[]' \n" | tr ',' '\n' || true
    fi
}

# The pid in node N's pid file, if that process is node N's VM: the node
# name is in its environment (RabbitMQ 3.10 names the node once booted, so
# its command line has no -sname) or, with other versions, its command line.
live_pid() {
    local d pid
    d=$(node_dir "$1")
    pid=$(cat "$d/rabbitmq.pid" 2>/dev/null || true)
    [ -n "$pid" ] || return 1
    tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "RABBITMQ_NODENAME=$(name "$1")" ||
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- " $(name "$1") " ||
        return 1
    echo "$pid"
}

# The node's data: it has been started before (and, for nodes 2 and 3, may
# remember a cluster).
has_data() {
    [ -d "$(node_dir "$1")/mnesia/$(name "$1")" ]
}

# The config files of the three nodes, and the cookie, written only when
# missing or (the config) when its content changes; says whether one that
# was there changed (what a running node read is then out of date).
write_config() {
    mkdir -p "$home"
    if [ ! -s "$home/.erlang.cookie" ]; then
        # One cookie for the three: they must share it to form a cluster,
        # and rabbitmqctl of each reads it from HOME.
        (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$home/.erlang.cookie")
        chmod 400 "$home/.erlang.cookie"
    fi
    local i d want changed=1
    for i in "${all[@]}"; do
        d=$(node_dir "$i")
        mkdir -p "$d/mnesia" "$d/log"
        want="# Written by scripts/rabbitmq-cluster.sh.
listeners.tcp.default = $host:$(amqp_port "$i")
cluster_name = ${prefix}1..3
# pause_minority: with three nodes, a node cut off from both others (a
# minority) stops serving its clients until it sees a majority again,
# instead of going on alone and diverging (the default, ignore). Quorum
# queues need a majority to commit anyway; under pause_minority a client of
# the lone node is disconnected and reconnects to the majority rather than
# hanging on a node that can no longer make progress. Stopping one node
# (the tests' crash) leaves a majority of two; stopping two pauses the
# third until one of them is back.
cluster_partition_handling = pause_minority
# Test nodes: small, quiet, and never in the way of the default one.
vm_memory_high_watermark.relative = 0.15
disk_free_limit.absolute = 50MB
log.file.level = warning
log.console = false"
        if [ "$(cat "$d/rabbitmq.conf" 2>/dev/null)" != "$want" ]; then
            [ ! -f "$d/rabbitmq.conf" ] || changed=0
            printf '%s\n' "$want" >"$d/rabbitmq.conf"
        fi
        if [ "$(cat "$d/enabled_plugins" 2>/dev/null)" != '[rabbitmq_consistent_hash_exchange].' ]; then
            [ ! -f "$d/enabled_plugins" ] || changed=0
            echo '[rabbitmq_consistent_hash_exchange].' >"$d/enabled_plugins"
        fi
        # None of /etc/rabbitmq's settings (the default node's).
        [ -f "$d/rabbitmq-env.conf" ] || echo '# Empty: scripts/rabbitmq-cluster.sh sets the environment.' >"$d/rabbitmq-env.conf"
    done
    return $changed
}

# The VMs of node N's name whose working directory (their DIR/cN, where
# `launch` starts them) has been removed: a checkout deleted, or a DIR made
# again, while its cluster ran. Nobody can stop them with the script any
# more (their cookie went with the directory), and they hold the ports.
orphans() {
    local i=$1 env pid cwd
    for env in /proc/[0-9]*/environ; do
        pid=${env#/proc/}
        pid=${pid%/environ}
        tr '\0' '\n' <"$env" 2>/dev/null | grep -qxF "RABBITMQ_NODENAME=$(name "$i")" || continue
        cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || continue
        case $cwd in
            *" (deleted)") echo "$pid" ;;
        esac
    done
}

# Kills the VMs of node N's name left by a removed DIR, and waits until
# their ports are free; a node of a DIR that still exists is never touched.
reap_orphans() {
    local i=$1 pids pid port waited=0
    pids=$(orphans "$i")
    [ -n "$pids" ] || return 0
    for pid in $pids; do
        echo "rabbitmq-cluster.sh: killing pid $pid, node $(name "$i") of a removed directory ($(readlink "/proc/$pid/cwd" 2>/dev/null))" >&2
        kill -KILL "$pid" 2>/dev/null || true
    done
    for port in "$(amqp_port "$i")" "$(dist_port "$i")"; do
        while answers "$port" && [ "$waited" -lt 20 ]; do
            sleep 0.5
            waited=$((waited + 1))
        done
    done
}

# Fails unless node N's ports and name are free (for a node that does not
# answer to this DIR's cookie), once any VM of a removed DIR holding them
# is gone.
check_free() {
    local i=$1 port
    reap_orphans "$i"
    for port in "$(amqp_port "$i")" "$(dist_port "$i")"; do
        if answers "$port"; then
            fail "port $port on $host is taken by something that is not node $(name "$i") of $dir" \
                "(another checkout's cluster? stop it with its own scripts/rabbitmq-cluster.sh stop," \
                "or set RABBITMQ_CLUSTER_PORT, RABBITMQ_CLUSTER_DIST_PORT)"
        fi
    done
    if command -v epmd >/dev/null 2>&1 &&
        ERL_EPMD_ADDRESS=$host epmd -names 2>/dev/null | grep -q "^name $prefix$i at port"; then
        fail "the node name $(name "$i") is registered with epmd by a node that is not this DIR's ($dir)" \
            "(another checkout's cluster? stop it with its own scripts/rabbitmq-cluster.sh stop," \
            "or set RABBITMQ_CLUSTER_NAME)"
    fi
}

# Starts node N's VM, detached; returns at once.
launch() {
    local i=$1 d
    d=$(node_dir "$i")
    rm -f "$d/rabbitmq.pid" "$d/erl_crash.dump"
    # Not `-detached` alone: its output (and a start that fails at once) goes
    # to a file the error can name. Without fd 9: the VM must not hold the
    # lock.
    (node_env "$i" && cd "$d" && "$bin/rabbitmq-server" -detached 9>&-) >"$d/log/start.out" 2>&1 ||
        fail "rabbitmq-server -detached failed for $(name "$i"): $(tail -n 3 "$d/log/start.out")"
}

# Waits until node N has booted (its rabbit application runs), or fails at
# the deadline (a SECONDS value), or as soon as its VM is gone (a VM that
# fails to boot leaves erl_crash.dump in DIR/cN, its working directory).
await_boot() { # N deadline
    local i=$1 deadline=$2 d started=$SECONDS
    d=$(node_dir "$i")
    until ctl_n "$i" 60 -q await_startup --timeout 50 >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] ||
            fail "node $(name "$i") did not start within ${wait_secs} s (logs in $d/log)"
        if [ -s "$d/erl_crash.dump" ]; then
            fail "node $(name "$i") failed to start: $(grep -m 1 '^Slogan' "$d/erl_crash.dump" | cut -c 1-300)" \
                "(see $d/erl_crash.dump and the logs in $d/log)"
        fi
        # The pid file is written a few seconds into the boot; once it was,
        # a VM that is gone has failed.
        if [ $((SECONDS - started)) -gt 5 ] && [ -s "$d/rabbitmq.pid" ] && ! live_pid "$i" >/dev/null; then
            fail "node $(name "$i") stopped while starting (logs in $d/log)"
        fi
        sleep 1
    done
}

# Starts the nodes given (whose VMs do not answer), all at once, and waits
# for each to boot. A node whose VM runs but does not answer yet (another
# start of it under way) is waited for, not started again.
start_nodes() {
    local deadline=$((SECONDS + wait_secs)) i pids=() rc=0 launch=()
    for i in "$@"; do
        if ! live_pid "$i" >/dev/null; then
            check_free "$i"
            launch+=("$i")
        fi
    done
    for i in "${launch[@]}"; do
        launch "$i" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do
        wait "$i" || rc=1
    done
    [ $rc -eq 0 ] || exit 1
    pids=()
    for i in "$@"; do
        await_boot "$i" "$deadline" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do
        wait "$i" || rc=1
    done
    [ $rc -eq 0 ] || exit 1
}

# Node N (2 or 3) is not a member of node 1's cluster, or node 1 is not a
# member of N's.
needs_join() {
    local ones mine
    ones=$(members 1)
    mine=$(members "$1")
    ! { grep -qxF "$(name "$1")" <<<"$ones" && grep -qxF "$(name 1)" <<<"$mine"; }
}

# Joins node N (2 or 3; its VM answers, its application stopped) to node
# 1's cluster, leaving start_app to the caller. A node that was in another
# cluster is reset first (join_cluster makes a graceful reset, which asks
# the members of that cluster to let the node go, and fails if one still
# runs with it): what it loses is data of a cluster node 1 is not in.
join() {
    local i=$1 n1 ni d
    n1=$(name 1)
    ni=$(name "$i")
    d=$(node_dir "$i")
    if members 1 | grep -qxF "$ni"; then
        # Node 1 remembers a node N that has since lost its data (DIR/cN
        # removed): forget it, or the join is refused as inconsistent.
        ctl 1 -q forget_cluster_node "$ni" >/dev/null || fail "rabbitmqctl forget_cluster_node $ni failed on $n1"
    fi
    if members "$i" | grep -qvxF "$ni"; then
        ctl "$i" -q force_reset >/dev/null || fail "rabbitmqctl force_reset failed on $ni"
    fi
    ctl_n "$i" 180 -q join_cluster "$n1" >"$d/log/join.out" 2>&1 ||
        fail "rabbitmqctl join_cluster $n1 failed on $ni: $(tail -n 1 "$d/log/join.out")"
}

# Starts the rabbit application of the nodes given (after a join, or after a
# stop_app that was not followed by a start_app), all at once.
start_apps() {
    local i pids=() rc=0
    for i in "$@"; do
        ctl_n "$i" "$wait_secs" -q start_app >/dev/null &
        pids+=($!)
    done
    for i in "${pids[@]}"; do
        wait "$i" || rc=1
    done
    [ $rc -eq 0 ] || fail "rabbitmqctl start_app failed on node(s) $*"
}

stop_apps() {
    local i pids=() rc=0
    for i in "$@"; do
        ctl "$i" -q stop_app >/dev/null &
        pids+=($!)
    done
    for i in "${pids[@]}"; do
        wait "$i" || rc=1
    done
    [ $rc -eq 0 ] || fail "rabbitmqctl stop_app failed on node(s) $*"
}

# The rabbit application of node N is stopped and not starting (stop_app,
# or paused in a minority).
app_stopped() {
    [ "$(ctl "$1" -q eval 'rabbit_boot_state:get().' 2>/dev/null)" = stopped ]
}

# Probes until node N runs in a cluster with the names given, or fails at
# the deadline.
await_cluster() { # deadline N name…
    local deadline=$1 i=$2
    shift 2
    until probe && runs_with "$i" "$@"; do
        [ "$SECONDS" -lt "$deadline" ] ||
            fail "node $(name "$i") does not run in a cluster with $* after ${wait_secs} s" \
                "(it is $(state "$i"); running nodes: $(listed "$i" running_nodes | tr '\n' ' '))"
        sleep 1
    done
}

print_env() {
    echo "urls=$(url 1),$(url 2),$(url 3)"
    local i
    for i in "${all[@]}"; do
        echo "url$i=$(url "$i")"
    done
    for i in "${all[@]}"; do
        echo "node$i=$(name "$i")"
    done
}

need_server() {
    if [ ! -x "$bin/rabbitmq-server" ]; then
        # Installs the package (and starts the default node, which the rest
        # of the suite needs anyway).
        "$root/scripts/rabbitmq.sh" || fail "rabbitmq-server is not installed"
        bin=/usr/lib/rabbitmq/bin
        [ -x "$bin/rabbitmq-server" ] || bin=$(dirname "$(command -v rabbitmq-server)")
    fi
}

start() {
    need_server
    local i
    if write_config; then
        # A new config: the nodes that run (with the old one) stop first.
        for i in "${all[@]}"; do
            if live_pid "$i" >/dev/null; then
                stop_all
                break
            fi
        done
    fi
    if cluster_ok; then
        print_env
        return 0
    fi
    probe
    local down=()
    if ! has_data 1 && [ "$(state 1)" = down ]; then
        # A new cluster: whatever nodes 2 and 3 remember is of a cluster
        # that is gone (node 1's data removed); it would only make them wait
        # for it at boot, or fail to join the new one. The three boot at
        # once, each alone; then nodes 2 and 3 join node 1.
        for i in 2 3; do
            if [ "$(state "$i")" != down ] || live_pid "$i" >/dev/null; then
                echo "rabbitmq-cluster.sh: node $(name 1) has no data: a new cluster; stopping $(name "$i") to start it anew" >&2
                stop_node "$i" "$(state "$i")"
            fi
            if has_data "$i"; then
                rm -rf "$(node_dir "$i")/mnesia"
                mkdir -p "$(node_dir "$i")/mnesia"
            fi
        done
        down=(1 2 3)
    else
        for i in "${all[@]}"; do
            [ "$(state "$i")" = down ] && down+=("$i")
        done
    fi
    # At once: a node that did not stop last waits at boot for the others.
    [ ${#down[@]} -eq 0 ] || start_nodes "${down[@]}"
    probe
    # A member whose application was stopped (and is not about to start):
    # start it; then the nodes that are not members join node 1's cluster.
    local stopped=() joins=()
    for i in "${all[@]}"; do
        if [ "$i" != 1 ] && needs_join "$i"; then
            joins+=("$i")
        elif [ "$(state "$i")" = up ] && app_stopped "$i"; then
            stopped+=("$i")
        fi
    done
    [ ${#stopped[@]} -eq 0 ] || start_apps "${stopped[@]}"
    [ ${#joins[@]} -eq 0 ] || stop_apps "${joins[@]}"
    # One at a time: two joins at once race on node 1's schema.
    for i in "${joins[@]}"; do
        join "$i"
    done
    [ ${#joins[@]} -eq 0 ] || start_apps "${joins[@]}"
    local deadline=$((SECONDS + wait_secs))
    until cluster_ok; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            probe
            for i in "${all[@]}"; do
                echo "rabbitmq-cluster.sh: $(name "$i") is $(state "$i"), running nodes: $(listed "$i" running_nodes | tr '\n' ' ')" >&2
            done
            fail "the three nodes do not run in one cluster after ${wait_secs} s (logs in $dir/c*/log)"
        fi
        sleep 1
    done
    print_env
}

# Stops node N; its state (from a probe) saves asking it first.
stop_node() { # N [state]
    local i=$1 st=${2:-} d pid
    d=$(node_dir "$i")
    if [ -z "$st" ]; then
        st=down
        running "$i" && st=up
    fi
    if [ "$st" != down ]; then
        ctl_n "$i" 120 -q stop "$d/rabbitmq.pid" >/dev/null 2>&1 || true
    fi
    # A node that no longer answers but still runs (its pid file says which,
    # and its environment names this node): end it.
    if pid=$(live_pid "$i"); then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$d/rabbitmq.pid"
}

stop_all() {
    probe
    # Node 3, then 2, then 1: node 1 stops last, so that it can boot alone
    # next time. (Alone, under pause_minority, it pauses before it stops;
    # that is harmless.)
    local i
    for i in 3 2 1; do
        stop_node "$i" "$(state "$i")"
    done
}

kill_node() {
    local i=$1 pid
    pid=$(live_pid "$i") || fail "node $(name "$i") is not running (no live VM in $(node_dir "$i")/rabbitmq.pid)"
    kill -9 "$pid"
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    ! kill -0 "$pid" 2>/dev/null || fail "node $(name "$i") (pid $pid) survived SIGKILL"
    rm -f "$(node_dir "$i")/rabbitmq.pid"
}

# Starts node N (again) and waits until it runs in the cluster together with
# the other nodes whose VMs answer.
start_node() {
    local i=$1 j others=()
    need_server
    write_config || true
    probe
    for j in "${all[@]}"; do
        [ "$j" != "$i" ] && [ "$(state "$j")" != down ] && others+=("$(name "$j")")
    done
    if runs_with "$i" "${others[@]}"; then
        return 0
    fi
    if [ "$(state "$i")" = down ]; then
        has_data "$i" || fail "node $(name "$i") has never been started: use scripts/rabbitmq-cluster.sh start"
        [ ${#others[@]} -gt 0 ] ||
            echo "rabbitmq-cluster.sh: no other node answers; unless $(name "$i") stopped last, it waits for them at boot (scripts/rabbitmq-cluster.sh start starts them all)" >&2
        start_nodes "$i"
    elif [ "$(state "$i")" = up ] && app_stopped "$i" && [ ${#others[@]} -eq 2 ]; then
        # Stopped by stop_app (not paused: the other two answer).
        start_apps "$i"
    fi
    await_cluster $((SECONDS + wait_secs)) "$i" "${others[@]}"
}

status() {
    cluster_ok && return 0
    probe
    local i
    for i in "${all[@]}"; do
        [ "$(state "$i")" != down ] || fail "node $(name "$i") does not answer"
    done
    for i in "${all[@]}"; do
        [ "$(state "$i")" = running ] || fail "node $(name "$i") answers but its rabbit application does not run"
    done
    fail "the three nodes do not all run in one cluster (node 1's cluster_status: $(tr -d ' \n' <"$tmp/1.json"))"
}

# The number of the node that leads quorum queue QUEUE, asked of the first
# node that answers.
leader() { # queue [vhost]
    local q=$1 vhost=${2:-/} i j out line lead
    for i in "${all[@]}"; do
        out=$(ctl "$i" -q list_queues -p "$vhost" --no-table-headers name type leader 2>/dev/null) || continue
        line=$(awk -F'\t' -v q="$q" '$1 == q' <<<"$out")
        [ -n "$line" ] || fail "no queue '$q' in vhost '$vhost' (asked $(name "$i"))"
        [ "$(cut -f2 <<<"$line")" = quorum ] || fail "queue '$q' is not a quorum queue (type $(cut -f2 <<<"$line"))"
        lead=$(cut -f3 <<<"$line")
        for j in "${all[@]}"; do
            if [ "$lead" = "$(name "$j")" ]; then
                echo "$j"
                return 0
            fi
        done
        fail "queue '$q' has no leader among the three nodes (leader: '$lead')"
    done
    fail "no node answers"
}

usage() {
    echo "usage: $0 [--dir DIR] start|stop|status|env|stop-node N|kill-node N|start-node N|leader QUEUE [VHOST]|ctl N ARGS..." >&2
    exit 2
}

# One command that starts or stops nodes at a time (two tests starting the
# cluster at once, say): the second waits for the first, then finds the
# nodes running.
lock() {
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$dir/.lock"
        flock -w "$((wait_secs * 3))" 9 || fail "another scripts/rabbitmq-cluster.sh of $dir holds $dir/.lock"
    fi
}

case $cmd in
start | stop | stop-node | kill-node | start-node) lock ;;
esac

case $cmd in
start) start ;;
stop) stop_all ;;
status) status ;;
env) print_env ;;
stop-node | kill-node | start-node)
    [ $# -eq 1 ] || usage
    n=$(index "$1")
    case $cmd in
    stop-node) stop_node "$n" ;;
    kill-node) kill_node "$n" ;;
    start-node) start_node "$n" ;;
    esac
    ;;
leader)
    { [ $# -ge 1 ] && [ $# -le 2 ]; } || usage
    leader "$@"
    ;;
ctl)
    [ $# -ge 1 ] || usage
    n=$(index "$1")
    shift
    ctl_n "$n" 600 "$@"
    ;;
*) usage ;;
esac
