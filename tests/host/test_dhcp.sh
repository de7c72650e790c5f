#!/bin/bash
# test_dhcp.sh — keel's DHCPv4 client (`[interface eth0] address = dhcp`,
# applied by `keel run --interfaces`) against Debian's dnsmasq, in a network
# namespace the test makes (kdhN, N this shell's pid): keel's uplink eth0 is a
# veth whose other end (up0, 10.77.0.1/24) is there.  One keel run:
#   online_control  a container without depends starts before any DHCP server
#                   exists and sees no address on eth0 (the boot does not wait)
#   online_waits    one with depends = network-online is still waiting then,
#                   and starts once dnsmasq answers: it sees the leased address
#                   and the lease's DNS in its /etc/resolv.conf at its start
#   address         eth0 has the leased address (in dnsmasq's lease file)
#   routes          option 121's routes (10.88/16 and the default via
#                   10.77.0.1, protocol dhcp) and not option 3's router
#                   (10.77.0.254): RFC 3442
#   renew           dnsmasq restarted with another DNS server: at the next
#                   renewal (T1 = 3 s through dnsmasq's option 58, dnsmasq's
#                   shortest lease being 2 min) the running container's
#                   /etc/resolv.conf shows it (written in place under its
#                   bind) and the lease file's expiry moved on
#   status          `keel status` (no NAME) shows eth0's lease: bound, the
#                   leased address, the server, the lease's DNS
#   nak             dnsmasq restarted authoritative for another range: it
#                   refuses the renewal (NAK), keel removes the old address
#                   and takes a new lease in the new range
#   release         keel's stop gives the lease back: dnsmasq drops it from
#                   its lease file (positive control: it was there)
# And without --interfaces (test_dhcp_host_mode): the [interface] sections are
# the host's business: keel touches no link (its namespace has no eth0, which
# it would fail to find) and network-online is met at once.
. "$(dirname "$0")/lib.sh"

NS=kdh$$
DNSMASQ=""

dhcp_cleanup() {
    [ -n "$DNSMASQ" ] && kill "$DNSMASQ" 2>/dev/null && wait "$DNSMASQ" 2>/dev/null
    DNSMASQ=""
    ip netns del "$NS" 2>/dev/null
}

# dnsmasq_start DNS [RANGE [EXTRA]]: DHCP only (port=0: no DNS service), on up0,
# lease 2 min, T1 3 s.
dnsmasq_start() {
    ip netns exec "$NS" dnsmasq --no-daemon --conf-file=/dev/null --interface=up0 --bind-interfaces --port=0 \
        --user=root --pid-file= --dhcp-range="${2:-10.77.0.50,10.77.0.60}",255.255.255.0,2m ${3:-} \
        --dhcp-option=option:router,10.77.0.254 --dhcp-option=option:dns-server,"$1" \
        --dhcp-option=option:domain-name,keel.test \
        --dhcp-option=121,10.88.0.0/16,10.77.0.1,0.0.0.0/0,10.77.0.1 --dhcp-option=option:T1,3 \
        --dhcp-leasefile="$T/leases" --log-dhcp --log-facility="$T/dnsmasq.log" >>"$T/dnsmasq.out" 2>&1 &
    DNSMASQ=$!
}

# keel_start_uplink MANIFEST: keel_start, but keel waits (bounded) for its
# eth0, which the test moves into its namespace, and runs with --interfaces.
keel_start_uplink() {
    : > "$OUT"; : > "$ERR"
    env --default-signal unshare --pid --mount --uts --ipc --net --fork --kill-child --mount-proc \
        --propagation private "$HOST_DIR/nsinit" "$T/leftover" sh -c '
            i=0
            until ip link show eth0 >/dev/null 2>&1; do
                i=$((i + 1)); [ "$i" -ge 400 ] && exit 125; sleep 0.05
            done
            exec "$0" run --interfaces "$1"' "$KEEL" "$1" > "$OUT" 2> "$ERR" &
    KPID=$!
    NSINIT=""
}

# in_keel CMD...: runs CMD in keel's network namespace.
in_keel() { nsenter -t "$(nsinit_pid)" -n "$@"; }
# ctr_file NAME PATH: a file as container NAME sees it.
ctr_file() { cat "$(nsproc)/$(started_pid "$1")/root$2" 2>/dev/null; }
lease_ip() { awk '{ print $3 }' "$T/leases" 2>/dev/null | head -n 1; }
lease_expiry() { awk '{ print $1 }' "$T/leases" 2>/dev/null | head -n 1; }

test_dhcp_lease() {
    plan online_control online_waits address routes status renew nak release
    command -v dnsmasq >/dev/null || fail "dnsmasq is not installed (make deps: DEPS_TEST has dnsmasq-base)"
    trap 'dhcp_cleanup; _cleanup' EXIT
    manifest <<EOF
$(system_section)
hostname = appl
control = unix://$T/keel.sock
[interface eth0]
address = dhcp
[container early]
layers = $LAYERS/base
network = host
command = /bin/sh -c 'echo early-start; ip -4 addr show eth0; echo early-seen; sleep 1000'
[container late]
layers = $LAYERS/base
upper = tmpfs
network = host
depends = network-online
command = /bin/sh -c 'echo late-start; ip -4 addr show eth0; cat /etc/resolv.conf; sleep 1000'
EOF
    keel_start_uplink "$T/keel.ini"
    require "keel's namespace did not appear" wait_until "$WAIT" bash -c "[ -n \"\$(cat /proc/$KPID/task/*/children 2>/dev/null)\" ]"
    local pid1
    pid1=$(nsinit_pid)
    ip netns add "$NS" || fail "cannot create the network namespace $NS"
    ip -n "$NS" link add up0 type veth peer name eth0 netns "$pid1" || fail "cannot create the veth pair"
    { ip -n "$NS" addr add 10.77.0.1/24 dev up0 && ip -n "$NS" link set up0 up; } || fail "cannot configure up0"

    # No DHCP server yet: early runs, late waits.
    require "early did not start" wait_out early early-start
    require "early did not print its view of eth0" wait_out early early-seen
    check online_control "early saw an address on eth0 before any DHCP server ran" \
        no_grep_in "^early.*inet 10\.77\." "$OUT"
    # Only now is there a server: late cannot have had a lease before.
    dnsmasq_start 10.77.0.53
    require "late did not start after the lease" wait_out late late-start 30
    require "late did not print its resolv.conf" wait_for "^late.*nameserver" "$OUT"
    check online_waits "late started without the lease's address or DNS" \
        bash -c "grep -qE '^late.*inet 10\\.77\\.0\\.(5[0-9]|60)/24' '$OUT' && grep -q '^late.*nameserver 10.77.0.53' '$OUT' && grep -q '^late.*search keel.test' '$OUT'"
    require "dnsmasq's lease file names no lease" wait_until 30 test -s "$T/leases"
    local ip addrs routes
    ip=$(lease_ip)
    addrs=$(in_keel ip -4 -o addr show eth0)
    check address "eth0 lacks the leased address '$ip': $addrs" \
        bash -c "[ -n '$ip' ] && grep -q 'inet $ip/24' <<< '$addrs'"
    routes=$(in_keel ip -4 route show proto dhcp)
    check routes "not option 121's routes: $(tr '\n' ';' <<< "$routes")" \
        bash -c "grep -q '^default via 10.77.0.1 dev eth0' <<< '$routes' && grep -q '^10.88.0.0/16 via 10.77.0.1 dev eth0' <<< '$routes' && ! grep -q 10.77.0.254 <<< '$routes'"

    local st
    st=$(KEEL_HOST="unix://$T/keel.sock" timeout $((20 * SLOW)) "$KEEL" status --json 2>&1)
    check status "keel status does not show the lease of $ip: $st" python3 -c '
import json, sys
u = json.loads(sys.argv[1])["uplinks"][0]
sys.exit(not (u["interface"] == "eth0" and u["dhcp"] in ("bound", "renewing") and u["address"] == sys.argv[2] + "/24"
              and u["server"] == "10.77.0.1" and u["dns"] == ["10.77.0.53"]))' "$st" "$ip"

    # Another DNS server at the next renewal: written in place, seen by the running container.
    local e1 conf
    e1=$(lease_expiry)
    conf=$(nsproc)/$(started_pid late)/root/etc/resolv.conf
    kill "$DNSMASQ"; wait "$DNSMASQ" 2>/dev/null; DNSMASQ=""
    dnsmasq_start 10.77.0.54
    wait_until 30 grep -q 'nameserver 10.77.0.54' "$conf"
    check renew "the running container's resolv.conf did not change at a renewal (expiry $e1 -> $(lease_expiry)): $(tr '\n' ' ' < "$conf")" \
        bash -c "grep -q 'nameserver 10.77.0.54' '$conf' && [ \"\$(awk '{ print \$1 }' '$T/leases' | head -n 1)\" -gt '$e1' ]"

    # Another range, authoritative: the next renewal is refused and keel starts over.
    local old=$ip
    kill "$DNSMASQ"; wait "$DNSMASQ" 2>/dev/null; DNSMASQ=""
    dnsmasq_start 10.77.0.54 10.77.0.100,10.77.0.110 --dhcp-authoritative
    wait_until 30 bash -c "nsenter -t $(nsinit_pid) -n ip -4 -o addr show eth0 | grep -qE 'inet 10\.77\.0\.1[01][0-9]/24'"
    addrs=$(in_keel ip -4 -o addr show eth0)
    check nak "after a NAK eth0 does not have one new address in the new range (old $old): $addrs" \
        bash -c "grep -qE 'inet 10\.77\.0\.1[01][0-9]/24' <<< '$addrs' && ! grep -q 'inet $old/' <<< '$addrs' && [ \$(grep -c inet <<< '$addrs') = 1 ]"
    ip=$(in_keel ip -4 -o addr show eth0 | sed -nE 's/.*inet (10\.77\.0\.[0-9]+)\/24.*/\1/p' | head -n 1)

    require "the lease was not in dnsmasq's lease file before the stop" grep -q " $ip " "$T/leases"
    keel_stop || fail "keel did not stop ($WHY)"
    wait_until 10 bash -c "! grep -q ' $ip ' '$T/leases'"
    check release "dnsmasq still holds the lease of $ip after keel stopped: $(cat "$T/leases")" \
        bash -c "! grep -q ' $ip ' '$T/leases'"
}

test_dhcp_host_mode() {
    manifest <<EOF
$(system_section)
[interface eth0]
address = dhcp
[container web]
layers = $LAYERS/base
depends = network-online
command = /bin/sh -c 'echo web-up; sleep 1000'
EOF
    keel_start
    require "a container waiting for network-online did not start under keel run" wait_out web web-up
    check dhcp_host_mode "keel run configured an uplink" no_grep_in "DHCP|cannot find interface" "$ERR"
    keel_stop || fail "keel did not stop ($WHY)"
}

run_tests "$@"
