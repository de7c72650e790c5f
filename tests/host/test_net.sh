#!/bin/bash
# test_net.sh — host integration tests of keel's networking (issue 4).
#
# Everything runs inside a throw-away network, mount and PID namespace
# (unshare --net --mount --pid), with a tmpfs on /run: nothing here touches the
# machine's real network.  In there, the unshared namespace plays "the host"
# and an `ip netns` namespace "outside" is wired to it by a veth (10.99.0.0/24)
# as an external client.
#
# Part 1 drives the net module directly through tests/host/netdrv.c (built
# here against build/obj/*.o), so it runs before the rest of keel exists.
# Part 2 runs the same scenarios through `keel run` when $KEEL is given and
# supports it (see test_net_keel below).
#
# Output: one "ok - net: NAME" / "not ok - net: NAME" / "skip - net: NAME: why"
# per check; exit status 1 when any check failed.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}

if [ "${KEEL_NET_INNER:-}" != 1 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "skip - net: all: needs root"
        exit 0
    fi
    for t in ip unshare nsenter busybox socat curl python3; do
        if ! command -v $t >/dev/null; then
            echo "skip - net: all: $t missing"
            exit 0
        fi
    done
    # Build the driver against the module objects (everything but main.o).
    # KEEL_ASAN=1 (make host-asan): the driver is built from the sanitizer objects.
    if [ "${KEEL_ASAN:-}" = 1 ]; then
        make -C "$ROOT" --no-print-directory -s asan >/dev/null || { echo "not ok - net: build"; exit 1; }
        objdir=$BUILD/asan/obj link="-fsanitize=address,undefined -fno-sanitize-recover=all"
        libs="$(pkg-config --libs libcap libnl-route-3.0 libnl-3.0 inih libseccomp) -lmbedtls -lmbedx509 -lmbedcrypto"
        drv=$BUILD/host/netdrv-asan
    else
        make -C "$ROOT" --no-print-directory -s all >/dev/null || { echo "not ok - net: build"; exit 1; }
        objdir=$BUILD/obj link=-static
        libs="$(pkg-config --static --libs libcap libnl-route-3.0 libnl-3.0 inih libseccomp) -lmbedtls -lmbedx509 -lmbedcrypto"
        drv=$BUILD/host/netdrv
    fi
    mkdir -p "$BUILD/host"
    objs=$(ls "$objdir"/*.o | grep -v '/main\.o$')
    if ! gcc -I"$ROOT/include" -D_GNU_SOURCE $(pkg-config --cflags libnl-3.0) -O1 -g -std=gnu11 -Wall -Wextra \
            -Werror -o "$drv" "$ROOT/tests/host/netdrv.c" $objs $libs $link 2>"$BUILD/host/netdrv.log"; then
        cat "$BUILD/host/netdrv.log"
        echo "not ok - net: build netdrv"
        exit 1
    fi
    export KEEL_NET_INNER=1 NETDRV="$drv"
    # sh stays PID 1 of the new PID namespace and reaps the servers the tests
    # leave behind (bash as PID 1 would print "Terminated" for each).
    exec unshare --net --mount --pid --fork --mount-proc --propagation private sh -c 'bash "$0" "$@"; exit $?' "$0" "$@"
fi

# ---------------------------------------------------------------------------
# Inside the throw-away namespaces.
# ---------------------------------------------------------------------------
FAILED=0
ok()    { echo "ok - net: $1"; }
notok() { echo "not ok - net: $1"; FAILED=1; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else notok "$name"; fi; }
skip()  { echo "skip - net: $1: $2"; }
q()     { "$@" >/dev/null 2>&1; }   # a command whose output is not wanted

mount -t tmpfs tmpfs /run
mkdir -p /run/keel
ip link set lo up
# A new namespace copies IPv4 forwarding from the machine's own (a host with
# Docker has it on): this namespace plays a host that has it off, as the
# forwarding checks below assume.
echo 0 > /proc/sys/net/ipv4/ip_forward
TMP=$(mktemp -d)
RUN=/run/keel

# The outside world: namespace "outside" behind a veth, and an extra host address.
ip netns add outside
ip link add up0 type veth peer name ext0 netns outside
ip addr add 10.99.0.1/24 dev up0
ip addr add 10.99.0.3/24 dev up0
ip link set up0 up
ip netns exec outside ip link set lo up
ip netns exec outside ip addr add 10.99.0.2/24 dev ext0
ip netns exec outside ip link set ext0 up
ip netns exec outside ip route add 172.30.0.0/16 via 10.99.0.1
ip netns exec outside ip route add 172.31.0.0/16 via 10.99.0.1
OUT="ip netns exec outside"
in_ns() { local n=$1; shift; nsenter --net="$RUN/netns/$n" "$@"; }

# --- the driver ---------------------------------------------------------------
MYPID=
start_drv() {
    coproc DRV { exec "$NETDRV" "$@" 2>>"$TMP/drv.err"; }
    MYPID=$DRV_PID   # bash unsets DRV_PID when the coprocess ends
    drv_read
}
drv_read() { REPLY_LINE=; read -r -t 10 REPLY_LINE <&"${DRV[0]}" || REPLY_LINE="(no answer)"; }
drv() { echo "$*" >&"${DRV[1]}"; drv_read; }
stop_drv() { drv quit; wait "$MYPID" 2>/dev/null; }
drv_hosts() {
    echo "hosts $1" >&"${DRV[1]}"
    HOSTS=
    local l
    while read -r -t 10 l <&"${DRV[0]}"; do
        [ "$l" = "ok hosts" ] && break
        HOSTS+="$l"$'\n'
    done
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# Waits up to ~3 s for a condition (the kernel destroys namespaces lazily).
eventually() { for _ in $(seq 30); do "$@" && return 0; sleep 0.1; done; return 1; }

# --- servers --------------------------------------------------------------------
serve_http() { # NS PORT TEXT
    mkdir -p "$TMP/www$2"; echo "$3" >"$TMP/www$2/index.html"
    ( nsenter --net="$RUN/netns/$1" busybox httpd -f -p "$2" -h "$TMP/www$2" & )
}
serve_udp() { # NS PORT TEXT
    # The reply comes after reading the request: an echo that exits at once
    # races socat writing the request to it (EPIPE, no reply).
    ( nsenter --net="$RUN/netns/$1" socat UDP-RECVFROM:"$2",fork SYSTEM:"read x; echo $3" & )
}
get()  { curl -s --max-time 2 "http://$1/" 2>/dev/null; }
getu() { echo ping | socat -t2 -T2 - UDP:"$1" 2>/dev/null; }

# ===========================================================================
# Part 1: the net module through netdrv
# ===========================================================================
start_drv \
    --network kiso,172.31.0.0/24,isolate \
    --container web,bridge,ip=172.30.0.10,port=8080:80,port=9090:90/udp,port=10.99.0.1:8082:82,port=127.0.0.1:8083:83 \
    --container peer,bridge \
    --container joiner,container:web \
    --container lonely,none \
    --container hostc,host \
    --container iso1,bridge,net=kiso \
    --container iso2,bridge,net=kiso \
    --container slow,bridge,rate=8000000
check "net_init succeeds" [ "${REPLY_LINE%% *}" = ok ]
[ "${REPLY_LINE%% *}" = ok ] || echo "# $REPLY_LINE"

# none -----------------------------------------------------------------------------
drv up lonely
if [ "${REPLY_LINE%% *}" = ok ]; then
    links=$(in_ns lonely ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
    check "none: only lo" [ "$links" = "lo " ]
    check "none: lo is up" bash -c "nsenter --net=$RUN/netns/lonely ip -o link show lo | grep -q ',UP'"
else
    notok "none: netns created ($REPLY_LINE)"
fi

# host -------------------------------------------------------------------------------
drv up hostc
check "host: joins keel's namespace (no netns fd)" [ "$REPLY_LINE" = "ok up hostc host" ]
check "host: keel's namespace has the outer interfaces" bash -c "ip -o link show up0 >/dev/null"

# bridge ------------------------------------------------------------------------------
drv up web
WEB_LINE=$REPLY_LINE
echo "# bridge container network setup (veth, address, route, 4 published ports): $(field us "$WEB_LINE") us"
check "bridge: started ($WEB_LINE)" [ "${WEB_LINE%% *}" = ok ]
check "bridge: explicit ip honoured" [ "$(field ip "$WEB_LINE")" = 172.30.0.10 ]
drv up peer
PEER_LINE=$REPLY_LINE
check "bridge: allocated lowest free ip" [ "$(field ip "$PEER_LINE")" = 172.30.0.2 ]
echo "# bridge container network setup (no ports): $(field us "$PEER_LINE") us"
check "bridge: eth0 has its address in the subnet" \
    bash -c "nsenter --net=$RUN/netns/web ip -o -4 addr show eth0 | grep -q 'inet 172.30.0.10/24'"
check "bridge: eth0 is up" bash -c "nsenter --net=$RUN/netns/web ip -o link show eth0 | grep -q ',UP'"
check "bridge: default route via the gateway" \
    bash -c "nsenter --net=$RUN/netns/web ip route show default | grep -q 'default via 172.30.0.1 dev eth0'"
check "bridge: lo up" bash -c "nsenter --net=$RUN/netns/web ip -o link show lo | grep -q ',UP'"
check "bridge: ping gateway" q in_ns web busybox ping -c1 -W2 172.30.0.1
check "bridge: ping peer container" q in_ns web busybox ping -c1 -W2 172.30.0.2
drv_hosts web
check "bridge: /etc/hosts names the peer" grep -q $'^172.30.0.2\tpeer$' <<<"$HOSTS"
check "bridge: /etc/hosts names itself" grep -q $'^172.30.0.10\tweb$' <<<"$HOSTS"
check "bridge: /etc/hosts leaves out other networks" bash -c "! grep -q iso1 <<<'$HOSTS'"
check "bridge: accept_ra off on eth0" [ "$(in_ns web cat /proc/sys/net/ipv6/conf/eth0/accept_ra 2>/dev/null || echo 0)" = 0 ]
check "bridge: accept_ra off on the host end" [ "$(cat /proc/sys/net/ipv6/conf/kvweb/accept_ra 2>/dev/null || echo 0)" = 0 ]
check "bridge: IPv4 forwarding on" [ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ]
check "bridge: route_localnet only on keel's bridge" \
    bash -c '[ "$(cat /proc/sys/net/ipv4/conf/keel0/route_localnet)" = 1 ] && [ "$(cat /proc/sys/net/ipv4/conf/up0/route_localnet)" = 0 ]'
check "bridge: ping without CAP_NET_RAW allowed (ping_group_range)" \
    [ "$(in_ns web cat /proc/sys/net/ipv4/ping_group_range | tr -s '[:space:]' ' ')" = "0 2147483647 " ]

# container:NAME -------------------------------------------------------------------------
drv up joiner
check "container: joins the namespace of its target" [ "$(field ino "$REPLY_LINE")" = "$(field ino "$WEB_LINE")" ]
check "container: same ip as its target" [ "$(field ip "$REPLY_LINE")" = 172.30.0.10 ]
serve_http web 7000 hello-7000
sleep 0.2
check "container: server of the target answers on 127.0.0.1" \
    bash -c "[ \"\$(nsenter --net=$RUN/netns/web curl -s --max-time 2 http://127.0.0.1:7000/)\" = hello-7000 ]"
drv up web
check "container: target restarted rejoins the same namespace and ip" \
    [ "$(field ino "$REPLY_LINE") $(field ip "$REPLY_LINE")" = "$(field ino "$WEB_LINE") 172.30.0.10" ]
drv up joiner
check "container: dependant still in the target's namespace after its restart" \
    [ "$(field ino "$REPLY_LINE")" = "$(field ino "$WEB_LINE")" ]

# published ports --------------------------------------------------------------------------
serve_http web 80 hello-80
serve_http web 81 hello-81
serve_http web 82 hello-82
serve_http web 83 hello-83
serve_udp web 90 udp-pong
sleep 0.3
check "ports: tcp from the host on 127.0.0.1"        [ "$(get 127.0.0.1:8080)" = hello-80 ]
check "ports: tcp from the host on its own address"  [ "$(get 10.99.0.1:8080)" = hello-80 ]
check "ports: tcp from outside"                      [ "$($OUT curl -s --max-time 2 http://10.99.0.1:8080/)" = hello-80 ]
check "ports: tcp from a peer container (hairpin)"   [ "$(in_ns peer curl -s --max-time 2 http://10.99.0.1:8080/)" = hello-80 ]
check "ports: udp from the host"                     [ "$(getu 10.99.0.1:9090)" = udp-pong ]
check "ports: udp from outside"                      [ "$($OUT bash -c 'echo ping | socat -t2 -T2 - UDP:10.99.0.1:9090 2>/dev/null')" = udp-pong ]
check "ports: HOST_IP port answers on HOST_IP"       [ "$($OUT curl -s --max-time 2 http://10.99.0.1:8082/)" = hello-82 ]
check "ports: HOST_IP port silent on another host address" \
    [ -z "$($OUT curl -s --max-time 2 http://10.99.0.3:8082/)" ]
check "ports: HOST_IP port silent on 127.0.0.1"      [ -z "$(get 127.0.0.1:8082)" ]
check "ports: 127.0.0.1 port answers the host"       [ "$(get 127.0.0.1:8083)" = hello-83 ]
check "ports: 127.0.0.1 port unreachable from outside via the host address" \
    [ -z "$($OUT curl -s --max-time 2 http://10.99.0.1:8083/)" ]
# CVE-2020-8558: a neighbour routes 127.0.0.1 to the host.  keel's bridge has
# route_localnet on, so only the guard chain stands between this and the port.
ip netns exec outside bash -c '
    ip route del local 127.0.0.0/8 dev lo table local 2>/dev/null
    ip route del local 127.0.0.1 dev lo table local 2>/dev/null
    ip route add 127.0.0.1/32 via 10.99.0.1 dev ext0 src 10.99.0.2' 2>/dev/null
check "ports: 127.0.0.1 port unreachable from a neighbour routing 127.0.0.1 to the host" \
    [ -z "$($OUT curl -s --max-time 2 http://127.0.0.1:8083/)" ]
ip netns exec outside bash -c '
    ip route del 127.0.0.1/32 2>/dev/null
    ip route add local 127.0.0.0/8 dev lo table local scope host src 127.0.0.1' 2>/dev/null
check "ports: unpublished container port unreachable from outside" \
    [ -z "$($OUT curl -s --max-time 2 http://172.30.0.10:81/)" ]
check "ports: published container port not reachable directly from outside" \
    [ -z "$($OUT curl -s --max-time 2 http://172.30.0.10:80/)" ]
( $OUT socat TCP-LISTEN:5000,reuseaddr,fork SYSTEM:'echo \$SOCAT_PEERADDR' & )
sleep 0.2
check "masquerade: a container reaches outside as the host's address" \
    [ "$(in_ns web socat -T2 - TCP:10.99.0.2:5000 </dev/null 2>/dev/null)" = 10.99.0.1 ]

# isolate = yes ------------------------------------------------------------------------------
drv up iso1; drv up iso2
check "isolate: containers on an isolated network do not reach each other" \
    bash -c "! nsenter --net=$RUN/netns/iso1 busybox ping -c1 -W1 172.31.0.3 >/dev/null 2>&1"
check "isolate: they reach the gateway" q in_ns iso1 busybox ping -c1 -W2 172.31.0.1
check "isolate: separate networks do not reach each other" \
    bash -c "! nsenter --net=$RUN/netns/iso1 busybox ping -c1 -W1 172.30.0.2 >/dev/null 2>&1"
check "isolate: non-isolated network is not isolated" q in_ns peer busybox ping -c1 -W2 172.30.0.10

# net_rate -------------------------------------------------------------------------------------
drv up slow
# Timed at the receiver: the sender is done as soon as its socket buffer holds the rest.
( socat -u TCP-LISTEN:6000,reuseaddr /dev/null; date +%s%N >"$TMP/sink-end" ) &
sink=$!
sleep 0.2
t0=$(date +%s%N)
in_ns slow bash -c 'head -c 2000000 /dev/zero | socat -u - TCP:172.30.0.1:6000' 2>/dev/null
wait $sink
t1=$(cat "$TMP/sink-end" 2>/dev/null || echo "$t0")
ms=$(( (t1 - t0) / 1000000 ))
echo "# 2 MB at net_rate 8 Mbit/s took $ms ms (at least ~2000 expected)"
check "net_rate: a bulk transfer takes at least what the rate implies" [ "$ms" -ge 1500 ]
check "net_rate: tbf qdisc on eth0" bash -c "nsenter --net=$RUN/netns/slow tc qdisc show dev eth0 2>/dev/null | grep -q tbf || nsenter --net=$RUN/netns/slow ip -d link show eth0 | grep -q 'qdisc tbf'"

# release ---------------------------------------------------------------------------------------
drv down web
check "release: answered" [ "$REPLY_LINE" = "ok down web" ]
check "release: published tcp port gone from the host" [ -z "$(get 127.0.0.1:8080)" ]
check "release: published tcp port gone from outside" [ -z "$($OUT curl -s --max-time 2 http://10.99.0.1:8080/)" ]
check "release: namespace pin removed" [ ! -e "$RUN/netns/web" ]
# A container's namespace can be held by a process that still runs in it (the
# servers above); the pair goes when the last one exits.
pkill -f "$TMP/www" 2>/dev/null; pkill -f "UDP-RECVFROM:90" 2>/dev/null
check "release: the veth pair goes with the namespace" eventually bash -c "! ip link show kvweb >/dev/null 2>&1"
drv up web
check "release: started again gets its explicit ip back" [ "$(field ip "$REPLY_LINE")" = 172.30.0.10 ]
check "release: a new namespace is configured after a release" \
    bash -c "nsenter --net=$RUN/netns/web ip -o -4 addr show eth0 | grep -q 'inet 172.30.0.10/24'"
drv down peer
drv up peer
check "release: freed address is allocated again" [ "$(field ip "$REPLY_LINE")" = 172.30.0.2 ]

# clean exit -------------------------------------------------------------------------------------
check "table: keel's nf_tables table exists while running" [ "$("$NETDRV" --table-exists)" = yes ]
second=$(echo quit | "$NETDRV" --container z,bridge 2>/dev/null | head -1)
check "second keel: refused while the first owns the table" grep -q "another keel owns nf_tables table ip keel" <<<"$second"
check "second keel: the first one's links untouched" q ip link show kvweb
check "second keel: the first one's namespace pins untouched" [ -e "$RUN/netns/web" ]
drv quit
check "exit: net_shutdown answered" [ "$REPLY_LINE" = "ok quit" ]
wait "$MYPID" 2>/dev/null
pkill -f "busybox httpd" 2>/dev/null
check "exit: no nf_tables table left" [ "$("$NETDRV" --table-exists)" = no ]
check "exit: no bridge left" eventually bash -c "! ip link show keel0 >/dev/null 2>&1 && ! ip link show kiso >/dev/null 2>&1"
check "exit: no veth left" eventually bash -c "! ip -o link show | grep -q ': kv'"
check "exit: no namespace pin left" [ -z "$(ls -A $RUN/netns 2>/dev/null)" ]
check "exit: IPv4 forwarding restored" [ "$(cat /proc/sys/net/ipv4/ip_forward)" = 0 ]

# crash (SIGKILL) and restart -----------------------------------------------------------------------
start_drv --container a,bridge,port=8080:80 --container b,none
drv up a; drv up b
serve_http a 80 hello-a
sleep 0.2
check "crash: port works before the crash" [ "$(get 127.0.0.1:8080)" = hello-a ]
kill -9 "$MYPID"; wait "$MYPID" 2>/dev/null
check "crash: the owned table vanished with keel's socket" [ "$("$NETDRV" --table-exists)" = no ]
check "crash: stale links remain until the next start" ip link show kva >/dev/null
start_drv --container c,bridge
check "crash: restart succeeds over the leftovers ($REPLY_LINE)" [ "${REPLY_LINE%% *}" = ok ]
check "crash: stale veth removed at start" bash -c "! ip link show kva >/dev/null 2>&1"
check "crash: stale pins removed at start" [ ! -e "$RUN/netns/a" ] && [ ! -e "$RUN/netns/b" ]
drv up c
check "crash: bridge usable after recovery" q in_ns c busybox ping -c1 -W2 172.30.0.1
stop_drv
pkill -f "busybox httpd" 2>/dev/null
check "crash: nothing left after the second run" \
    eventually bash -c "! ip -o link show | grep -q -e ': kv' -e ': keel0' && [ -z \"\$(ls -A $RUN/netns)\" ]"
check "crash: forwarding the crashed run turned on is restored by the next" [ "$(cat /proc/sys/net/ipv4/ip_forward)" = 0 ]

# no bridge container: nothing at all ------------------------------------------------------------------
start_drv --container n1,none --container h1,host
drv up n1
check "none only: no bridge, no table, forwarding untouched" \
    bash -c "! ip link show keel0 >/dev/null 2>&1 && [ \"\$($NETDRV --table-exists)\" = no ] && [ \"\$(cat /proc/sys/net/ipv4/ip_forward)\" = 0 ]"
stop_drv

# a link of keel's bridge name that keel did not make -----------------------------------------------------
ip link add keel0 type bridge
res=$(echo quit | "$NETDRV" --container y,bridge 2>/dev/null | head -1)
check "foreign bridge: refused with a clear error" grep -q "cannot create bridge keel0: a link of that name exists and is not keel's" <<<"$res"
check "foreign bridge: left alone" q ip link show keel0
check "foreign bridge: no table left behind" [ "$("$NETDRV" --table-exists)" = no ]
ip link del keel0

# fds: every fd keel keeps is close-on-exec --------------------------------------------------------------
start_drv --container w,bridge,port=8080:80
drv up w
bad=0 seen=0
for fd in /proc/$MYPID/fd/*; do
    # Only keel's own: netlink sockets and namespace fds (bash adds pipes).
    case $(readlink "$fd") in socket:*|net:*) ;; *) continue ;; esac
    seen=$((seen + 1))
    flags=$(awk '/^flags:/ {print $2}' "/proc/$MYPID/fdinfo/${fd##*/}" 2>/dev/null)
    [ -n "$flags" ] && [ $(( 8#$flags & 8#2000000 )) -eq 0 ] && { bad=1; echo "# fd ${fd##*/} lacks O_CLOEXEC"; }
done
[ "$seen" -ge 4 ] || bad=1
check "fds: every netlink socket and namespace fd is O_CLOEXEC" [ "$bad" = 0 ]
stop_drv

# ===========================================================================
# Part 2: through `keel run` (once the core can run containers)
# ===========================================================================
if [ -n "${KEEL:-}" ] && [ -f "$ROOT/tests/host/net-keel.sh" ]; then
    . "$ROOT/tests/host/net-keel.sh"
else
    skip "keel run scenarios" "KEEL not set or tests/host/net-keel.sh missing"
fi

check "driver: no sanitizer or error reports on stderr" bash -c "! grep -q -e 'ERROR: AddressSanitizer' -e 'runtime error' -e 'LeakSanitizer' '$TMP/drv.err'"
grep -e 'ERROR' -e 'runtime error' -A20 "$TMP/drv.err" | head -40 | sed 's/^/# /'

rm -rf "$TMP"
exit $FAILED
