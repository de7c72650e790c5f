#!/bin/bash
# test_observe.sh — the metrics endpoint and the syslog forwarder (issue 16),
# against the real tools operators run: Debian's prometheus and promtool, and
# rsyslog.  Each collector runs in the test's own network namespace (keel's,
# entered with nsenter), on loopback only; it is started by the test and
# killed by its pid at the end.  The cgroup figures are asserted in
# tests/vm/test_cgroup.sh (this host has almost no cgroup v2 controllers).
TEST_TIMEOUT=${TEST_TIMEOUT:-90}
. "$(dirname "$0")/lib.sh"

MPORT=9100
SPORT=5514

# Processes the test started outside keel's PID namespace.
EXTRA_PIDS=()
eval "$(declare -f _cleanup | sed '1s/_cleanup/_lib_cleanup/')"
_cleanup() {
    local p
    for p in "${EXTRA_PIDS[@]}"; do
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    EXTRA_PIDS=()
    _lib_cleanup
}

need() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || fail "$t is missing (make deps installs it)"
    done
}

# in_ns COMMAND...: runs COMMAND in keel's network namespace.
in_ns() {
    nsenter --net="/proc/$(nsinit_pid)/ns/net" "$@"
}

# scrape [PATH]: GET PATH (default /metrics) from keel's endpoint into $T/scrape; prints the status.
scrape() {
    in_ns curl -s -o "$T/scrape" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$MPORT${1:-/metrics}"
}

# The value of a sample line (exact name and labels) in $T/scrape.
sample() {
    awk -v k="$1" '$1 == k { print $2 }' "$T/scrape"
}

# scrape_has ERE: a scrape answers 200 with a line matching ERE.
scrape_has() {
    [ "$(scrape)" = 200 ] && grep -qE -- "$1" "$T/scrape"
}

ns_ready() {
    local p
    p=$(nsinit_pid)
    [ -n "$p" ] && [ -e "/proc/$p/ns/net" ]
}

# wait_metrics: keel's namespace exists and its metrics endpoint answers.
wait_metrics() {
    wait_until 20 ns_ready && wait_until 20 scrape_has '^keel_info\{'
}

# prom_is_one QUERY: Prometheus' HTTP API answers QUERY with the value 1.
prom_is_one() {
    in_ns curl -s --max-time 2 -G --data-urlencode "query=$1" http://127.0.0.1:9090/api/v1/query |
        grep -q '"value":\[[0-9.]*,"1"\]'
}

# rsyslog_start: rsyslogd in keel's namespace, UDP and TCP on 127.0.0.1:$SPORT,
# each message written as one line of parsed fields into $T/syslog.out.
rsyslog_start() {
    mkdir -p "$T/rsyslog"
    cat > "$T/rsyslog.conf" <<EOF
global(workDirectory="$T/rsyslog" maxMessageSize="8k")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="$SPORT" name="udp")
input(type="imtcp" address="127.0.0.1" port="$SPORT" name="tcp")
template(name="fields" type="string"
         string="pri=%pri% host=%hostname% app=%app-name% procid=%procid% msgid=%msgid% via=%inputname% msg=%msg%\n")
*.* action(type="omfile" file="$T/syslog.out" template="fields")
EOF
    : > "$T/syslog.out"
    # nsenter itself, not a function: $! must be the collector's own pid
    # (nsenter --net execs it), or the kill below misses it.
    nsenter --net="/proc/$(nsinit_pid)/ns/net" rsyslogd -n -f "$T/rsyslog.conf" -i "$T/rsyslog.$RANDOM.pid" \
        > "$T/rsyslog.log" 2>&1 &
    EXTRA_PIDS+=($!)
}

# syslog_has ERE [TIMEOUT]: polls $T/syslog.out for a line.
syslog_has() {
    wait_until "${2:-20}" grep -qE -- "$1" "$T/syslog.out"
}

test_metrics_endpoint() {
    need curl promtool prometheus nsenter
    plan exposition promtool_rejects_broken figures control_counts refusals per_source prometheus_scrape
    manifest <<EOF
$(system_section)
metrics = tcp://127.0.0.1:$MPORT
control = unix://$T/keel.sock
[container web]
layers = $LAYERS/base
command = /bin/probe print up sleep inf
[container once]
layers = $LAYERS/base
command = /bin/probe print once
restart = no
EOF
    keel_start
    wait_out web up || fail "web did not come up ($WHY)"
    wait_metrics || fail "the metrics endpoint did not answer 200"
    # The one-shot container's exit shows as its state (polled: it may lag).
    wait_until 10 scrape_has '^keel_container_state\{container="once",state="exited"\} 1$'
    cp "$T/scrape" "$T/good"

    # Format: Prometheus' own checker takes it whole, HELP/TYPE included ...
    if promtool check metrics < "$T/good" > "$T/promtool.out" 2>&1; then
        check exposition "promtool accepts keel's exposition" eq 0 0
    else
        check exposition "promtool rejected keel's exposition: $(head -3 "$T/promtool.out")" eq 1 0
    fi
    # ... and is a checker that rejects a broken one (positive control).
    { cat "$T/good"; printf 'keel_broken{container="x" 1\n'; } > "$T/bad"
    if promtool check metrics < "$T/bad" > /dev/null 2>&1; then
        check promtool_rejects_broken "promtool accepted a broken sample: it checks nothing" eq 1 0
    else
        check promtool_rejects_broken "" eq 0 0
    fi

    # Real figures, as the process table and keel's state say.
    local st restarts once info up
    st=$(sample 'keel_container_state{container="web",state="running"}')
    once=$(sample 'keel_container_state{container="once",state="exited"}')
    restarts=$(sample 'keel_container_restarts_total{container="web"}')
    info=$(grep -c '^keel_info{version="[^"]\+"} 1$' "$T/good")
    up=$(sample keel_uptime_seconds)
    if [ "$st/$once/$restarts/$info" = "1/1/0/1" ] && float_ge "$up" 0.001 &&
       grep -q '^keel_boot_stage_seconds{stage="supervisor ready"} ' "$T/good" &&
       grep -q '^keel_control_connections_accepted_total ' "$T/good" &&
       grep -q '^# TYPE keel_container_restarts_total counter$' "$T/good"; then
        check figures "" eq 0 0
    else
        check figures "web running=$st once exited=$once restarts=$restarts info=$info uptime=$up" eq 1 0
    fi

    # The control server's counters follow real clients: root's `keel ps`
    # is accepted; nobody's (the socket made world-writable on purpose, so
    # that keel's SO_PEERCRED check, not the mode, refuses it) is refused:
    # one connection, one refusal (keel counted each such refusal twice).
    local a0 a1 r0 r1
    a0=$(sample keel_control_connections_accepted_total)
    r0=$(sample keel_control_connections_refused_total)
    KEEL_HOST="unix://$T/keel.sock" timeout $((20 * SLOW)) "$KEEL" ps > "$T/ps.out" 2>&1
    chmod 0666 "$T/keel.sock"
    KEEL_HOST="unix://$T/keel.sock" timeout $((20 * SLOW)) setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$KEEL" ps > "$T/nobody.out" 2>&1
    scrape > /dev/null
    a1=$(sample keel_control_connections_accepted_total)
    r1=$(sample keel_control_connections_refused_total)
    check control_counts "accepted $a0 -> $a1 (ps: $(head -c 80 "$T/ps.out")), refused $r0 -> $r1 ($(head -c 120 "$T/nobody.out"))" \
        eq "$((a1 - a0))/$(grep -c '^web ' "$T/ps.out")/$((r1 - r0))/$(grep -c 'permission denied' "$T/nobody.out")" "1/1/1/1"

    # Refusals: a POST, an unknown path, a header over 8 KiB; then a GET
    # still works (the server was up and is still serving).
    local post path long get
    post=$(in_ns curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST -d x "http://127.0.0.1:$MPORT/metrics")
    path=$(scrape /admin)
    long=$(in_ns curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H "X-Long: $(head -c 9000 /dev/zero | tr '\0' a)" \
           "http://127.0.0.1:$MPORT/metrics")
    get=$(scrape)
    check refusals "POST $post, /admin $path, long header $long, GET after $get" eq "$post/$path/$long/$get" "405/404/431/200"

    # Per source: four idle connections are held, the fifth gets 503; once
    # they are closed a GET is served again.
    in_ns python3 - "$MPORT" > "$T/persrc" 2>&1 <<'EOF'
import socket, sys
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(4)]
fifth = socket.create_connection(("127.0.0.1", port), timeout=5)
print(fifth.recv(100).decode(errors="replace").split("\r\n")[0])
EOF
    get=$(scrape)
    check per_source "fifth connection: $(head -1 "$T/persrc"); GET after: $get" eq "$(head -1 "$T/persrc")/$get" \
        "HTTP/1.1 503 Service Unavailable/200"

    # Prometheus itself scrapes keel and answers for `up` and a keel series.
    cat > "$T/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: keel
    static_configs:
      - targets: ['127.0.0.1:$MPORT']
EOF
    nsenter --net="/proc/$(nsinit_pid)/ns/net" prometheus --config.file="$T/prometheus.yml" \
        --storage.tsdb.path="$T/prom" --web.listen-address=127.0.0.1:9090 > "$T/prometheus.log" 2>&1 &
    EXTRA_PIDS+=($!)
    if wait_until 60 prom_is_one 'up{job="keel"}' &&
       wait_until 10 prom_is_one 'keel_container_state{container="web",state="running"}'; then
        check prometheus_scrape "" eq 0 0
    else
        check prometheus_scrape "prometheus did not report up=1 and web running: $(tail -3 "$T/prometheus.log")" eq 1 0
    fi
    keel_stop || fail "keel did not stop ($WHY)"
}

test_metrics_address_later() {
    need curl nsenter ip
    plan served_once_address_exists
    # An address the namespace does not have yet (as with DHCP): keel binds
    # it anyway, and serves once the address appears.
    manifest <<EOF
$(system_section)
metrics = tcp://192.0.2.7:$MPORT
[container web]
layers = $LAYERS/base
command = /bin/probe print up sleep inf
EOF
    keel_start
    wait_out web up || fail "web did not come up ($WHY)"
    wait_until 20 ns_ready || fail "keel's namespace did not appear"
    in_ns ip addr add 192.0.2.7/32 dev lo || fail "cannot add the address"
    local code
    code=$(in_ns curl -s -o "$T/scrape" -w '%{http_code}' --max-time 5 "http://192.0.2.7:$MPORT/metrics")
    check served_once_address_exists "GET answered $code; keel: $(grep -a metrics "$ERR" | head -2)" \
        eq "$code/$(grep -c '^keel_container_state{container="web",state="running"} 1$' "$T/scrape")" "200/1"
    keel_stop || fail "keel did not stop ($WHY)"
}

test_syslog_udp_tcp() {
    need rsyslogd nsenter
    plan udp_fields tcp_early_lines tcp_framing keel_own tcp_reconnect
    # TCP first: keel starts before the collector, so its first lines and
    # the container's wait in the queue until rsyslog listens.
    manifest <<EOF
$(system_section)
syslog = tcp://127.0.0.1:$SPORT
[container app]
layers = $LAYERS/base
command = /bin/sh -c 'echo early-marker; i=0; while [ \$i -lt 50 ]; do echo frame-\$i; i=\$((i+1)); done; echo burst-done; while true; do echo tick-\$i; i=\$((i+1)); sleep 0.2; done'
EOF
    keel_start
    wait_out app burst-done || fail "app did not print its lines ($WHY)"
    wait_until 10 ns_ready || fail "keel's namespace did not appear"
    # Nothing listened when these were written: they were queued.
    rsyslog_start
    local host
    host=$(in_ns hostname 2>/dev/null || hostname)
    if syslog_has "^pri=14 host=$host app=app procid=- msgid=- via=tcp msg= ?early-marker$" 30; then
        check tcp_early_lines "" eq 0 0
    else
        check tcp_early_lines "the early line never reached rsyslog over TCP: $(head -3 "$T/syslog.out")" eq 1 0
    fi
    # Octet counting: each of the 50 lines is one message of its own.
    syslog_has "app=app .* msg= ?burst-done$" 20
    local frames
    frames=$(grep -cE '^pri=14 host=[^ ]+ app=app procid=- msgid=- via=tcp msg= ?frame-[0-9]+$' "$T/syslog.out")
    check tcp_framing "lines parsed as whole messages: $frames of 50" eq "$frames" 50
    if syslog_has '^pri=30 host=[^ ]+ app=keel .*msg= ?stage: keel start' 5; then
        check keel_own "" eq 0 0
    else
        check keel_own "keel's own first line (daemon.info) is not in rsyslog's output" eq 1 0
    fi
    # The collector goes away and comes back: keel notices the broken
    # connection, reconnects (with backoff) and the ticks go on arriving.
    kill -9 "${EXTRA_PIDS[@]}" 2>/dev/null
    wait "${EXTRA_PIDS[@]}" 2>/dev/null
    EXTRA_PIDS=()
    rsyslog_start
    if syslog_has "^pri=14 host=[^ ]+ app=app procid=- msgid=- via=tcp msg= ?tick-[0-9]+$" 30; then
        check tcp_reconnect "" eq 0 0
    else
        check tcp_reconnect "no tick reached the restarted rsyslog: $(tail -2 "$T/syslog.out")" eq 1 0
    fi
    keel_stop || fail "keel did not stop ($WHY)"

    # UDP: one datagram per message.
    manifest <<EOF
$(system_section)
syslog = udp://127.0.0.1:$SPORT
[container ticker]
layers = $LAYERS/base
command = /bin/sh -c 'i=0; while true; do echo tick-\$i; i=\$((i+1)); sleep 0.2; done'
EOF
    kill -9 "${EXTRA_PIDS[@]}" 2>/dev/null
    wait "${EXTRA_PIDS[@]}" 2>/dev/null
    EXTRA_PIDS=()
    keel_start
    wait_out ticker tick-0 || fail "ticker did not start ($WHY)"
    rsyslog_start
    if syslog_has "^pri=14 host=$host app=ticker procid=- msgid=- via=udp msg= ?tick-[0-9]+$" 30; then
        check udp_fields "" eq 0 0
    else
        check udp_fields "no ticker line over UDP: $(head -3 "$T/syslog.out")" eq 1 0
    fi
    keel_stop || fail "keel did not stop ($WHY)"
}

test_syslog_queue_overflow() {
    need rsyslogd curl nsenter
    plan drops_counted drops_reported newest_kept oldest_dropped
    # 4000 lines of ~200 bytes while nothing listens: far over the 256 KiB queue.
    manifest <<EOF
$(system_section)
syslog = tcp://127.0.0.1:$SPORT
metrics = tcp://127.0.0.1:$MPORT
[container flood]
layers = $LAYERS/base
command = /bin/sh -c 'i=0; while [ \$i -lt 4000 ]; do echo "flood-\$i $(printf 'x%.0s' $(seq 180))"; i=\$((i+1)); done; echo flood-done; exec sleep 1000'
EOF
    keel_start
    wait_out flood flood-done || fail "flood did not finish ($WHY)"
    wait_metrics || fail "the metrics endpoint did not answer"
    local dropped
    dropped=$(sample keel_syslog_messages_dropped_total)
    check drops_counted "keel_syslog_messages_dropped_total is '$dropped'" ge "${dropped:-0}" 1
    rsyslog_start
    if syslog_has '^pri=28 host=[^ ]+ app=keel .*msg= ?warning: [0-9]+ syslog messages dropped' 30; then
        check drops_reported "" eq 0 0
    else
        check drops_reported "no drop report reached rsyslog: $(tail -3 "$T/syslog.out")" eq 1 0
    fi
    if syslog_has 'app=flood .*msg= ?flood-done$' 20; then
        check newest_kept "" eq 0 0
    else
        check newest_kept "the newest line did not arrive" eq 1 0
    fi
    check oldest_dropped "the oldest line arrived although the queue overflowed" \
        eq "$(grep -cE 'msg= ?flood-0 ' "$T/syslog.out")" 0
    keel_stop || fail "keel did not stop ($WHY)"
}

run_tests "$@"
