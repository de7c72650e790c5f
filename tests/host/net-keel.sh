# net-keel.sh — issue 4's scenarios through `keel run`; sourced by
# test_net.sh inside its throw-away namespaces (uses its helpers, $TMP, $RUN,
# $OUT and the "outside" namespace).  Needs $KEEL (absolute path).
#
# Written before the core could run containers: if `keel run` does not get a
# container started, the whole part is skipped with the reason.

KT=$TMP/keel
mkdir -p "$KT/layer/bin" "$KT/layer/www" "$KT/log"
for d in proc sys dev etc tmp run; do mkdir -p "$KT/layer/$d"; done
cp "$(command -v busybox)" "$KT/layer/bin/busybox"
for a in sh httpd ping sleep cat ip wget echo hostname ls true; do ln -sf busybox "$KT/layer/bin/$a"; done
cp "$PROBE" "$KT/layer/bin/probe"
echo hello-keel >"$KT/layer/www/index.html"
echo 'root:x:0:0:root:/:/bin/sh' >"$KT/layer/etc/passwd"
echo 'root:x:0:' >"$KT/layer/etc/group"

KPID=
keel_start() { # MANIFEST
    "$KEEL" run "$1" >"$KT/out" 2>"$KT/err" &
    KPID=$!
}
keel_stop() {
    kill -TERM "$KPID" 2>/dev/null
    local i
    for i in $(seq 100); do kill -0 "$KPID" 2>/dev/null || break; sleep 0.1; done
    wait "$KPID" 2>/dev/null
    KSTATUS=$?
}
said() { grep -q -- "$1" "$KT/err" "$KT/out" 2>/dev/null; }
log_has() { grep -q -- "$2" "$KT/log/$1.log" 2>/dev/null; }
nothing_left() {
    ! ip -o link show | grep -q -e ': kv' -e ': keel0' &&
        [ "$("$NETDRV" --table-exists)" = no ] && [ -z "$(ls -A "$RUN/netns" 2>/dev/null)" ]
}

common="layers = $KT/layer"
cat >"$KT/modes.ini" <<EOF
[system]
log_dir = $KT/log
stop_timeout = 2

[container web]
$common
upper = tmpfs
command = /bin/httpd -f -p 80 -h /www
network = bridge
ip = 172.30.0.10
ports = 8080:80/tcp
ports = 127.0.0.1:8083:80/tcp

[container client]
$common
upper = tmpfs
command = /bin/sh -c "while ! /bin/probe icmp web | grep -q =ok; do sleep 0.2; done; echo RESOLVED; ip -4 -o addr show eth0; ip route; exec sleep 1000"
network = bridge
depends = web

[container lonely]
$common
command = /bin/sh -c "ip -o link; exec sleep 1000"
network = none

[container hosty]
$common
command = /bin/sh -c "ip -o link; exec sleep 1000"
network = host
EOF

keel_start "$KT/modes.ini"
if ! eventually said "web: started"; then
    skip "keel run: all" "keel run did not start a container ($(tail -1 "$KT/err" 2>/dev/null))"
    kill -9 "$KPID" 2>/dev/null
    return 0 2>/dev/null || exit 0
fi
eventually log_has client RESOLVED
check "keel run: bridge: peer resolvable by name (/etc/hosts)" log_has client RESOLVED
check "keel run: bridge: address in the subnet" log_has client "inet 172.30.0."
check "keel run: bridge: default route via the gateway" log_has client "default via 172.30.0.1"
eventually log_has lonely "lo"
check "keel run: none: only lo" bash -c "[ \"\$(grep -c ': ' '$KT/log/lonely.log')\" = 1 ] && grep -q ': lo:' '$KT/log/lonely.log'"
check "keel run: host: sees the outer interfaces" bash -c "grep -q 'up0' '$KT/log/hosty.log'"
check "keel run: published port from the host" [ "$(get 127.0.0.1:8080)" = hello-keel ]
check "keel run: published port from outside" [ "$($OUT curl -s --max-time 2 http://10.99.0.1:8080/)" = hello-keel ]
check "keel run: 127.0.0.1 port unreachable from outside" [ -z "$($OUT curl -s --max-time 2 http://10.99.0.1:8083/)" ]
keel_stop
check "keel run: SIGTERM exits 0" [ "$KSTATUS" = 0 ]
check "keel run: nothing left after a clean exit" eventually nothing_left
check "keel run: port gone after exit" [ -z "$(get 127.0.0.1:8080)" ]

# Killed with SIGKILL, then started again over the leftovers.
keel_start "$KT/modes.ini"
eventually said "web: started"
kill -9 "$KPID"; wait "$KPID" 2>/dev/null
check "keel run: SIGKILL leaves no nf_tables table" [ "$("$NETDRV" --table-exists)" = no ]
keel_start "$KT/modes.ini"
check "keel run: starts again after a SIGKILL" eventually said "web: started"
sleep 0.3
check "keel run: published port works after the recovery" [ "$(get 127.0.0.1:8080)" = hello-keel ]
keel_stop
check "keel run: nothing left after the recovered run" eventually nothing_left
pkill -9 -f "$KT/layer" 2>/dev/null

# join_manifest FILE A_END A_RESTART: container a (bridge) serves on its
# 127.0.0.1:7000, then runs A_END; b joins a's namespace (container:a) and
# fetches from it every 0.2 s, printing DOWN when nothing answers.
join_manifest() {
    cat >"$1" <<EOF
[system]
log_dir = $KT/log
stop_timeout = 2

[container a]
$common
command = /bin/sh -c "ip -4 -o addr show eth0; httpd -p 127.0.0.1:7000 -h /www; $2"
network = bridge
restart = $3

[container b]
$common
command = /bin/sh -c "while true; do wget -q -O - http://127.0.0.1:7000/ 2>/dev/null || echo DOWN; sleep 0.2; done"
network = container:a
depends = a
EOF
}

# container:NAME — the target restarts, the dependant keeps its network.
join_manifest "$KT/join.ini" "sleep 2; exit 1" always
rm -f "$KT/log/a.log" "$KT/log/b.log"
keel_start "$KT/join.ini"
eventually log_has b hello-keel
check "keel run: container: a server in A answers B on 127.0.0.1" log_has b hello-keel
for _ in $(seq 60); do said "a: restarting" && break; sleep 0.1; done
check "keel run: container: A is restarted" said "a: restarting"
sleep 1.5
before=$(grep -c hello-keel "$KT/log/b.log")
sleep 1.2
after=$(grep -c hello-keel "$KT/log/b.log")
check "keel run: container: B reaches A again after A's restart" [ "$after" -gt "$before" ]
check "keel run: container: B was not restarted" [ "$(grep -c 'b: started' "$KT/err")" = 1 ]
check "keel run: container: A keeps the same IP across restarts" \
    [ "$(grep -o 'inet [0-9.]*' "$KT/log/a.log" | sort -u | wc -l)" = 1 ]
keel_stop
check "keel run: container: nothing left after exit" eventually nothing_left
pkill -9 -f "$KT/layer" 2>/dev/null

# container:NAME — the target ends for good while the dependant runs: its
# namespace and address stay (they are the dependant's network), and a new
# start of the target (keel start) rejoins them.
join_manifest "$KT/join2.ini" "sleep 1; exit 0" no
rm -f "$KT/log/a.log" "$KT/log/b.log"
keel_start "$KT/join2.ini"
eventually log_has b hello-keel
eventually said "a: exited with status 0"
check "keel run: container: the target ends for good, the dependant runs on" said "a: exited with status 0"
eventually log_has b DOWN
served_before=$(grep -c hello-keel "$KT/log/b.log")
check "keel run: container: the ended target can be started again" \
    q "$KEEL" start a
served_again() { [ "$(grep -c hello-keel "$KT/log/b.log")" -gt "$served_before" ]; }
check "keel run: container: the target started again rejoins the dependant's namespace" eventually served_again
check "keel run: container: the target keeps its address after ending for good" \
    [ "$(grep -o 'inet [0-9.]*' "$KT/log/a.log" | sort -u | wc -l)" = 1 ]
keel_stop
check "keel run: container: nothing left after the second exit" eventually nothing_left
pkill -9 -f "$KT/layer" 2>/dev/null
