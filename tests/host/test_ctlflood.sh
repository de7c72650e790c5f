#!/bin/bash
# test_ctlflood.sh — issue 13 item 4 and issue 22 item 8: an unauthenticated
# client must not stall keel's control plane, and keel's own console lines
# must not stall PID 1.  Also the TLS suites keel accepts (issue 13), and a
# member of control_group that cannot take root's last slots on the unix
# socket.
#
# TCP clients run inside keel's network namespace (nsenter --net), where the
# listener's 127.0.0.1 is; the flooders use many 127.0.0.N source addresses
# (the per-address cap alone would otherwise stop them).  python3 does the
# flooding and speaks TLS (OpenSSL) with chosen versions and suites.
# vsock: the host has no vsock loopback transport (vsock_loopback) unless it
# is loaded; the vsock refusal is tested in tests/vm/test_control.sh.
. "$(dirname "$0")/lib.sh"

SOCK() { echo "$T/keel.sock"; }
# keel ps over unix under a generous bound: the client's own deadline.
PS_BOUND=$((5 * SLOW))
kc() { KEEL_HOST="unix://$(SOCK)" timeout -k 1 "$PS_BOUND" "$KEEL" "$@"; }
innet() { nsenter --net="/proc/$(nsinit_pid)/ns/net" "$@"; }

# make_certs KIND: CA, server (SAN 127.0.0.1) and client certificates, EC
# (prime256v1) or RSA (2048).
make_certs() {
    local k
    case $1 in
    ec) k='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes' ;;
    rsa) k='-newkey rsa:2048 -nodes' ;;
    esac
    (
        set -e
        cd "$T"
        openssl req -x509 $k -keyout ca.key -out ca.crt -subj /CN=test-ca -days 2
        printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > srv.ext
        printf 'extendedKeyUsage=clientAuth\n' > cli.ext
        openssl req $k -keyout server.key -out server.csr -subj /CN=keel
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile srv.ext -out server.crt
        openssl req $k -keyout client.key -out client.csr -subj /CN=admin
        openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile cli.ext -out client.crt
    ) > "$T/openssl.log" 2>&1
}

flood_manifest() {
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)
control = tcp://127.0.0.1:2376
control_tls_cert = $T/server.crt
control_tls_key = $T/server.key
control_tls_ca = $T/ca.crt

[container c]
layers = $LAYERS/base
command = /bin/probe print ready sleep inf
restart = no
EOF
}

up() {
    wait_until $((10 * SLOW)) test -S "$(SOCK)" || fail "no control socket at $(SOCK)"
    wait_until $((10 * SLOW)) eval 'kc ps 2>/dev/null | grep -qE "^c +running"' || fail "keel ps never showed c running"
}

# The flooder: N connections to 127.0.0.1:2376 from 127.0.0.2.. (4 per
# address), half idle, half dribbling one byte of a ClientHello a second, each
# re-made half a second after keel closes it, for SECONDS.  Writes "ready" once the
# first N were made, then at the end: made=M closed_by_keel=K (every close,
# those refused at once included) cut=C (the closes of connections keel had
# held for at least CUT_AFTER seconds: cut by the handshake deadline, not
# refused at once) held_max=S (the longest a connection stayed open before
# keel closed it) open_at_end=O oldest_open=S (how long the oldest one still
# open had been).  Times are the flooder's monotonic clock from the moment
# its connect returns (keel's accept, where keel's deadline starts, cannot
# come much before): a hold is not measured shorter than keel made it.
FLOODER='
import socket, sys, time, os
n, secs, out, cut_after = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], float(sys.argv[4])
hello = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]) * 8
conns = {}
gone_at = {}
made = closed = cut = 0
held_max = 0.0
def make(i):
    global made
    s = socket.socket(); s.setblocking(False)
    s.bind(("127.0.0.%d" % (2 + i // 4), 0))
    try: s.connect(("127.0.0.1", 2376))
    except BlockingIOError: pass
    except OSError: s.close(); return
    conns[i] = [s, time.monotonic(), 0]
    made += 1
for i in range(n): make(i)
open(out + ".ready", "w").write("ready\n")
end = time.monotonic() + secs
last_drip = 0.0
while time.monotonic() < end:
    now = time.monotonic()
    drip = now - last_drip >= 1.0
    if drip: last_drip = now
    for i in range(n):
        if i not in conns:
            if now - gone_at.get(i, 0) >= 0.5: make(i)
            continue
        s, t0, k = conns[i]
        gone = False
        try:
            b = s.recv(4096)
            gone = not b
        except BlockingIOError: pass
        except OSError: gone = True
        if not gone and drip and i % 2 and k < len(hello):
            try: s.send(hello[k:k + 1]); conns[i][2] += 1
            except BlockingIOError: pass
            except OSError: gone = True
        if gone:
            closed += 1
            if now - t0 >= cut_after: cut += 1
            held_max = max(held_max, now - t0)
            s.close(); del conns[i]; gone_at[i] = now
    time.sleep(0.02)
now = time.monotonic()
oldest = max([now - c[1] for c in conns.values()] or [0])
open(out, "w").write("made=%d closed_by_keel=%d cut=%d held_max=%.1f open_at_end=%d oldest_open=%.1f\n"
                     % (made, closed, cut, held_max, len(conns), oldest))
'

# flood_value FILE KEY
flood_value() { sed -nE "s/.*\b$2=([0-9.]+).*/\1/p" "$1"; }

# While 200 idle and dribbling TCP connections hold every slot keel gives
# unauthenticated clients (and then some), keel ps over the unix socket
# answers, each time, under its deadline; the flooders are closed by the
# handshake deadline (5 s), and none stays open much longer.
test_tcp_flood_unix_answers() {
    plan flood_held_slots ps_answers flooders_cut_off
    make_certs ec || fail "openssl could not make the test certificates"
    flood_manifest
    keel_start
    wait_out c ready || fail "c did not come up ($WHY)"
    up
    if [ -d /sys/module/vsock_loopback ]; then
        echo "# vsock: not flooded here (tests/vm/test_control.sh covers the vsock listener)"
    else
        echo "# vsock: not flooded: this host has no vsock loopback transport (vsock_loopback is not loaded);" \
             "tests/vm/test_control.sh covers the vsock listener"
    fi
    # The flood lasts 15 s in both builds, three of keel's 5-s handshake
    # deadlines (keel's monotonic timer, which ASan does not stretch).  No
    # connection may stay open longer than two deadlines (held_max, and
    # oldest_open at the end): one that keel never cuts is as old as the
    # flood.  The bound used to be the flood's own length (15 s, 45 s for
    # ASan), which such a connection meets to the printed tenth ("15.0"):
    # with keel's deadline made 30 s the check passed.  The 45-s ASan flood
    # only re-ran the same cycle (45 s of the ASan layer).
    # Cut off means closed at the deadline: a connection keel had held for
    # cut_after (the 5-s deadline less half a second; the flooder's hold is
    # never shorter than keel's).  keel's 16 handshake slots are full from the
    # first moment, so by 5 s at least 16 are cut.  All closes counted
    # (closed_by_keel) made the old `>= 200` meaningless: 184 of the 200 are
    # refused at once and re-made every half second, a few thousand closes
    # with no deadline at work.
    local flood_secs=15 held_bound=10 cut_after=4.5 slots=16
    innet timeout $((60 * SLOW)) python3 -c "$FLOODER" 200 "$flood_secs" "$T/flood" "$cut_after" > "$T/flood.err" 2>&1 &
    local fl=$!
    wait_for ready "$T/flood.ready" $((10 * SLOW)) || fail "the flooder did not start ($(cat "$T/flood.err"))"
    # Every handshake slot is taken within a moment: see keel hold them.
    check flood_held_slots "the flood never held TCP connections in keel" wait_until $((10 * SLOW)) eval \
        "[ \"\$(innet ss -Htn state established '( sport = :2376 )' | wc -l)\" -ge 8 ]"
    local i ok=0 rc
    for i in 1 2 3 4 5; do
        kc ps > "$T/ps$i.out" 2>&1
        rc=$?
        grep -qE '^c +running' "$T/ps$i.out" && ok=$((ok + 1))
        echo "# ps $i during the flood: status $rc"
    done
    # The answers came during the flood: the flooder was still running after them.
    local during=no
    kill -0 "$fl" 2>/dev/null && ! [ -s "$T/flood" ] && during=yes
    check ps_answers "keel ps over unix did not answer within $PS_BOUND s during the TCP flood ($ok of 5 did; during the flood: $during)" \
        eval "[ '$ok' = 5 ] && [ '$during' = yes ]"
    wait "$fl"
    echo "# flooder: $(cat "$T/flood" 2>/dev/null)"
    local held oldest cut
    cut=$(flood_value "$T/flood" cut)
    held=$(flood_value "$T/flood" held_max)
    oldest=$(flood_value "$T/flood" oldest_open)
    check flooders_cut_off "the flooders were not cut off by the handshake deadline (fewer than $slots held ${cut_after} s or more; $(cat "$T/flood" 2>/dev/null))" \
        eval "[ -n '$cut' ] && [ '$cut' -ge $slots ] && float_le '$held' $held_bound && float_le '$oldest' $held_bound"
    keel_stop || fail "keel did not stop ($WHY)"
}

# keel's stderr is a pipe nobody reads, already full: every line keel writes
# would block PID 1.  A flood of refused TLS clients (each one a warning)
# must leave keel ps answering; once the pipe is drained, keel reports how
# many lines it dropped.
test_full_console_refused_flood() {
    plan ps_answers_console_full dropped_reported
    make_certs ec || fail "openssl could not make the test certificates"
    flood_manifest
    mkfifo "$T/errfifo"
    exec 8<> "$T/errfifo"    # a reader that never reads (keeps the pipe open)
    : > "$OUT"
    KRC=""
    env --default-signal unshare --pid --mount --uts --ipc --net --fork --kill-child --mount-proc \
        --propagation private "$HOST_DIR/nsinit" "$T/leftover" "$KEEL" run "$T/keel.ini" \
        > "$OUT" 2> "$T/errfifo" 8<&- &
    KPID=$!
    NSINIT=""
    wait_out c ready || fail "c did not come up ($WHY)"
    up
    # Fill what is left of the pipe's 64 KiB.
    python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK)
n = 0
try:
    while True: n += os.write(fd, b"#" * 4095 + b"\n")
except BlockingIOError: pass
print(n)' "$T/errfifo" > "$T/filled"
    echo "# filled the console pipe with $(cat "$T/filled") more bytes"
    # 300 refused TLS clients (plaintext: the handshake fails at once), from
    # 30 addresses, while keel ps asks.
    innet timeout $((60 * SLOW)) python3 -c '
import socket
for r in range(10):
    for a in range(30):
        try:
            s = socket.create_connection(("127.0.0.1", 2376), timeout=5, source_address=("127.0.0.%d" % (2 + a), 0))
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            s.recv(100)
            s.close()
        except OSError:
            pass
' > "$T/refused.err" 2>&1 &
    local fl=$! i ok=0
    for i in 1 2 3; do
        kc ps > "$T/ps$i.out" 2>&1
        grep -qE '^c +running' "$T/ps$i.out" && ok=$((ok + 1))
    done
    wait "$fl"
    kc ps > "$T/ps4.out" 2>&1
    grep -qE '^c +running' "$T/ps4.out" && ok=$((ok + 1))
    check ps_answers_console_full "keel ps did not answer with keel's console full ($ok of 4 did)" eq "$ok" 4
    # Drain, then make keel log something: the drop count comes first.
    cat <&8 > "$T/drained" &
    local cat=$!
    kc stop c > /dev/null 2>&1
    check dropped_reported "keel did not report its dropped lines after the drain" \
        wait_for "$(klog 'warning: [0-9]+ log lines dropped')" "$T/drained" $((10 * SLOW))
    keel_stop || fail "keel did not stop ($WHY)"
    kill "$cat" 2>/dev/null
    wait "$cat" 2>/dev/null
    exec 8<&-
    cat "$T/drained" >> "$ERR"   # for the sanitizer check and diagnostics
}

# The TLS suites: ECDHE with AEAD over TLS 1.2 works; static RSA, DHE, CBC
# and TLS 1.1 are refused.  An RSA server key, so that the non-ECDHE suites
# could be chosen at all (with an EC key only ECDHE-ECDSA suites exist).
test_tls_suites() {
    plan ecdhe_gcm_ok ecdhe_chacha_ok static_rsa_refused dhe_refused cbc_refused tls11_refused
    make_certs rsa || fail "openssl could not make the test certificates"
    flood_manifest
    keel_start
    wait_out c ready || fail "c did not come up ($WHY)"
    up
    local probe='
import socket, ssl, sys, os
ver, ciphers = sys.argv[1], sys.argv[2]
d = os.environ["CERTS"]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(d + "/ca.crt")
ctx.load_cert_chain(d + "/client.crt", d + "/client.key")
v = {"1.1": ssl.TLSVersion.TLSv1_1, "1.2": ssl.TLSVersion.TLSv1_2}[ver]
ctx.set_ciphers(ciphers)
ctx.minimum_version = ctx.maximum_version = v
try:
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", 2376), timeout=10), server_hostname="127.0.0.1")
    s.sendall(b"{\"op\":\"ps\"}\n")
    line = s.makefile("rb").readline()
    print("answered" if b"containers" in line else "no answer", s.version(), s.cipher()[0])
except (OSError, ssl.SSLError) as e:
    print("refused", e)
'
    # A refusal must be the server's alert (not a client that could not even
    # offer what it was asked to).
    tls() { CERTS=$T innet timeout $((20 * SLOW)) python3 -W ignore -c "$probe" "$@" 2>&1; }
    refused() { [[ "$1" == refused*ALERT* ]] && return 0; WHY="not the server's refusal"; return 1; }
    local out
    out=$(tls 1.2 ECDHE-RSA-AES128-GCM-SHA256)
    check ecdhe_gcm_ok "ECDHE-RSA-AES128-GCM-SHA256 over TLS 1.2 was not served: $out" eval "[[ \"\$out\" == answered* ]]"
    out=$(tls 1.2 ECDHE-RSA-CHACHA20-POLY1305)
    check ecdhe_chacha_ok "ECDHE-RSA-CHACHA20-POLY1305 was not served: $out" eval "[[ \"\$out\" == answered* ]]"
    out=$(tls 1.2 AES128-GCM-SHA256)
    check static_rsa_refused "static RSA key exchange (AES128-GCM-SHA256) was served: $out" refused "$out"
    out=$(tls 1.2 DHE-RSA-AES128-GCM-SHA256)
    check dhe_refused "DHE-RSA-AES128-GCM-SHA256 was served: $out" refused "$out"
    out=$(tls 1.2 ECDHE-RSA-AES128-SHA256)
    check cbc_refused "a CBC suite (ECDHE-RSA-AES128-SHA256) was served: $out" refused "$out"
    out=$(tls 1.1 'ECDHE-RSA-AES128-SHA:@SECLEVEL=0')
    check tls11_refused "TLS 1.1 was served: $out" refused "$out"
    keel_stop || fail "keel did not stop ($WHY)"
}

# The holder, run as a member of control_group: opens up to N `logs -f`
# streams of c (no deadline: a stream may be silent for ever; `events`
# would stop at the supervisor's 64 subscribers) one after the
# other, each confirmed by keel's ok, and stops at the first that is not
# answered ok within ANSWER_S seconds; prints held=H and the answer that
# stopped it (or "none"), then holds every stream until killed.
HOLDER='
import socket, sys, time
path, n, answer_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
request = (sys.argv[4] if len(sys.argv) > 4 else "{\"op\":\"logs\",\"name\":\"c\",\"lines\":0,\"follow\":true}").encode() + b"\n"
held, stop = [], "none"
def first_line(s):
    buf = b""
    while b"\n" not in buf:
        b = s.recv(4096)
        if not b: break
        buf += b
    return buf.split(b"\n")[0].decode(errors="replace")
for i in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(answer_s)
    try:
        s.connect(path)
        s.sendall(request)
        line = first_line(s)
    except OSError as e:
        line = "no answer: %s" % e
    if "\"ok\":true" in line:
        held.append(s)
        continue
    stop = line or "closed without an answer"
    s.close()
    break
sys.stdout.write("held=%d\nstop=%s\n" % (len(held), stop))
sys.stdout.flush()
while True: time.sleep(60)
'

# member_ps: keel ps as a member of control_group (staff, gid 50), bounded.
member_ps() {
    KEEL_HOST="unix://$(SOCK)" timeout -k 1 "$PS_BOUND" setpriv --reuid=65534 --regid=65534 --groups=50 \
        "$KEEL" ps
}

# hold_streams AS N [REQUEST]: AS (member or root) opens up to N streams of
# REQUEST (default: logs -f of c) in the background and keeps them; once it
# has stopped opening, HELD is how many it holds, STOP the answer that
# stopped it ("none": all N), HOLDER_PID its pid (kill it to let go).
hold_streams() {
    local as=$1 n=$2 out=$T/held.$RANDOM
    local -a run=()
    [ "$as" = member ] && run=(setpriv --reuid=65534 --regid=65534 --groups=50)
    "${run[@]}" timeout $((120 * SLOW)) python3 -c "$HOLDER" "$(SOCK)" "$n" $((5 * SLOW)) ${3:+"$3"} \
        > "$out" 2> "$out.err" &
    HOLDER_PID=$!
    wait_for '^stop=' "$out" 60 || fail "the holder did not finish opening streams ($WHY; $(cat "$out.err"))"
    HELD=$(sed -n 's/^held=//p' "$out")
    STOP=$(sed -n 's/^stop=//p' "$out")
    echo "# $as: held $HELD streams, stopped by: $STOP"
}

# control_group_manifest [LINES]: container c ready, the socket open to
# control_group staff, LINES added to [system].
control_group_manifest() {
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)
control_group = staff
${1:-}

[container c]
layers = $LAYERS/base
command = /bin/probe print ready sleep inf
restart = no
EOF
    keel_start
    wait_out c ready || fail "c did not come up ($WHY)"
}

# A member of control_group holds every stream keel lets it open: the unix
# listener's last 8 of its 128 slots stay root's.  The member holds 120,
# its next connection (a raw one, then `keel ps`) is refused at once with
# the reason, counted and logged; root's `keel ps` answers meanwhile.
# Positive control: once the member lets go, it is served again.  On the
# old keel the member held all 128 and both `keel ps` waited in the backlog
# past their bound.
test_member_cannot_take_root_slots() {
    plan member_holds_its_share member_refused_at_once member_told_why root_answers refusal_counted \
        refusal_logged member_served_after
    local mport=9100
    control_group_manifest "metrics = tcp://127.0.0.1:$mport"
    up
    refused_total() {
        innet curl -s --max-time 5 "http://127.0.0.1:$mport/metrics" |
            awk '$1 == "keel_control_connections_refused_total" { print $2 }'
    }
    local r0 r1
    r0=$(refused_total)
    # 128: max_clients, every slot of the listener (keel's default, no knob).
    hold_streams member 128
    local holder=$HOLDER_PID stop=$STOP
    check member_holds_its_share "the member held $HELD streams, not 120 (128 less root's 8)" eq "$HELD" 120
    check member_refused_at_once "the member's 121st connection was not refused with the reason: $stop" \
        eval "[[ \"\$stop\" == *'\"ok\":false'*'kept for root'* ]]"
    local rc
    member_ps > "$T/member_ps.out" 2>&1
    rc=$?
    check member_told_why "the member's keel ps (status $rc) did not say why: $(head -c 300 "$T/member_ps.out")" \
        eval "[ $rc = 1 ] && grep -q '^keel: error: busy: .*kept for root' '$T/member_ps.out'"
    kc ps > "$T/root_ps.out" 2>&1
    rc=$?
    check root_answers "root's keel ps did not answer within $PS_BOUND s (status $rc) while the member held its streams: $(head -c 200 "$T/root_ps.out")" \
        grep_in '^c +running' "$T/root_ps.out"
    r1=$(refused_total)
    check refusal_counted "keel_control_connections_refused_total went '$r0' -> '$r1', not up by the 2 refusals" \
        eval "[ -n '$r0' ] && [ -n '$r1' ] && [ \$(($r1 - $r0)) = 2 ]"
    check refusal_logged "keel did not log the refusal" \
        wait_klog 'warning: control: refused client on .*uid 65534\): the last 8 of 128 connections are kept for root' 5
    kill "$holder" 2>/dev/null
    wait "$holder" 2>/dev/null
    check member_served_after "the member was not served again once it let go" \
        wait_until 10 eval 'member_ps 2>/dev/null | grep -qE "^c +running"'
    keel_stop || fail "keel did not stop ($WHY)"
}

# The same for `keel events`: the supervisor has 64 subscribers, keel's own
# take up to 2, members at most 48.  A member holding every events stream it
# may open leaves root its own: the member's 49th is refused with the
# reason, root's is served.  On the old keel the member held all 64 (keel
# run's daemon holds none of its own here) and root's events got "cannot
# subscribe to events".
test_member_cannot_take_root_events() {
    plan member_events_share member_events_told_why root_events_served member_events_after
    control_group_manifest
    local ev='{"op":"events"}'
    hold_streams member 64 "$ev"
    local member=$HOLDER_PID stop=$STOP
    check member_events_share "the member held $HELD events streams, not 48" eq "$HELD" 48
    check member_events_told_why "the member's 49th events stream was not refused with the reason: $stop" \
        eval "[[ \"\$stop\" == *'\"ok\":false'*'kept for root'* ]]"
    hold_streams root 1 "$ev"
    check root_events_served "root's events stream was not served while the member held its share: $STOP" \
        eq "$HELD" 1
    kill "$member" "$HOLDER_PID" 2>/dev/null
    wait "$member" "$HOLDER_PID" 2>/dev/null
    hold_streams member 1 "$ev"
    check member_events_after "the member's events stream was not served once it let go: $STOP" eq "$HELD" 1
    kill "$HOLDER_PID" 2>/dev/null
    wait "$HOLDER_PID" 2>/dev/null
    keel_stop || fail "keel did not stop ($WHY)"
}

run_tests "$@"
