#!/bin/bash
# test_behaviour.sh — behaviours the manifest documents, each asserted by its
# effect inside or around the container (what /proc, the interface, the
# datagram, keel ps or the container's own output says), not by keel's log
# lines, with a positive control beside every negative check:
#   stop_signal           the container receives that signal, not SIGTERM
#   stop_timeout          a container's own value, not [system]'s, decides when
#                         SIGKILL follows: the stop signal's trap runs, the
#                         container lives on after it, and is gone in the end
#   ambient_capabilities  a uid-1000 process holds the capabilities and uses
#                         DAC_OVERRIDE; without the key it holds none
#   seccomp / no_new_privs  unconfined, a custom profile, no_new_privs = no
#   rlimit                set limits, the default nofile where keel's own
#                         limit differs, a refused limit fails the start
#   dns                   [system] dns is the containers' /etc/resolv.conf
#   mtu                   [network] mtu on the bridge, the veth and eth0
#   ports .../udp         a datagram to the published port is answered (and
#                         only at the HOST_IP given)
#   depends (one-shot)    a dependency that exited 0 lets its dependant start,
#                         one that exited 1 holds it back; start_timeout names
#                         the dependency that really held it back
# The cgroup limits, oom_score_adj and boot-mode dns/mtu are in
# tests/vm/test_limits.sh.
. "$(dirname "$0")/lib.sh"

# ctr NAME COMMAND [EXTRA-LINES]: a container section on the base layer.
ctr() {
    printf '[container %s]\nlayers = %s\ncommand = %s\nrestart = no\n%s\n' "$1" "$LAYERS/base" "$2" "${3:-}"
}

# Control socket in $T (keel's /run is private to its namespace).
SOCK() { echo "$T/keel.sock"; }
kc() { KEEL_HOST="unix://$(SOCK)" timeout $((20 * SLOW)) "$KEEL" "$@"; }

# ps_field NAME FIELD[.SUBFIELD]: a field of container NAME in `keel ps --json`.
ps_field() {
    kc ps --json 2>/dev/null | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    if c["name"] == sys.argv[1]:
        for k in sys.argv[2].split("."):
            c = c.get(k) if isinstance(c, dict) else None
        print(c)' "$1" "$2"
}

# in_ns COMMAND...: COMMAND in the test's network namespace (keel's).
in_ns() {
    nsenter --net="/proc/$(nsinit_pid)/ns/net" "$@"
}

# ---- stop_signal ---------------------------------------------------------------------

# Both containers trap USR1 and TERM (the trap prints the signal and exits 0):
# the one with stop_signal = SIGUSR1 must get USR1, the other TERM, the
# default.  Without its signal a container would sit out [system]
# stop_timeout and be killed, printing nothing.
test_stop_signal() {
    plan stop_signal_delivered stop_signal_default_term
    manifest <<EOF
$(system_section 5)
$(ctr usr "/bin/probe trap USR1 trap TERM print up sleep inf" "stop_signal = SIGUSR1")
$(ctr dflt "/bin/probe trap USR1 trap TERM print up sleep inf")
EOF
    keel_start
    wait_out usr up || fail "usr did not come up ($WHY)"
    wait_out dflt up || fail "dflt did not come up ($WHY)"
    keel_stop 30 || fail "keel did not stop ($WHY)"
    check stop_signal_delivered "the container did not receive its stop_signal SIGUSR1" \
        eq "$(c_value usr trapped)" SIGUSR1
    check stop_signal_default_term "the default stop signal is not SIGTERM" eq "$(c_value dflt trapped)" SIGTERM
}

# ---- a container's own stop_timeout ------------------------------------------------------

# [system] stop_timeout is an hour; the container's own is 3 s.  Its TERM
# trap reports and carries on (as a container that ignores its stop signal):
#  - the trap ran: keel did not kill it before the signal was handled;
#  - it went on running after the signal (its loop printed after the trap);
#  - it is gone in the end and keel exited, far inside the hour: only its own
#    stop_timeout can have brought the SIGKILL (the outer bound is generous
#    and no time is measured).
test_stop_timeout_own() {
    plan own_timeout_trap_ran own_timeout_alive_after_signal own_timeout_killed_in_the_end \
         own_timeout_nothing_left
    manifest <<EOF
$(system_section 1h)
$(ctr slow "/bin/sh -c 'trap \"echo got-term; t=1\" TERM; echo up; while :; do sleep 0.05; if [ -n \"\$t\" ]; then echo alive-after-term; t=; fi; done'" "stop_timeout = 3s")
EOF
    keel_start
    wait_out slow up || fail "slow did not come up ($WHY)"
    keel_signal TERM || fail "cannot signal keel ($WHY)"
    wait_out slow got-term 30
    check own_timeout_trap_ran "the container was killed before its stop signal's trap ran" out_has slow got-term
    wait_out slow alive-after-term 30
    check own_timeout_alive_after_signal "the container did not live on after its stop signal" \
        out_has slow alive-after-term
    keel_wait 40
    check own_timeout_killed_in_the_end \
        "keel did not end the container within 40 s although its own stop_timeout is 3 s ([system]: 1 h)" \
        eval '[ -z "$KPID" ] && [ "$KRC" = 0 ]'
    check own_timeout_nothing_left "processes left in the namespace" \
        eval '[ -f "$T/leftover" ] && [ ! -s "$T/leftover" ]'
}

# ---- ambient_capabilities ------------------------------------------------------------

# uid 1000 with ambient DAC_OVERRIDE and NET_BIND_SERVICE holds them after
# exec (CapAmb, CapEff) and reads a root-only file with DAC_OVERRIDE; the same
# user without the key holds nothing and cannot read it.  (Binding port 80
# proves nothing here: keel sets ip_unprivileged_port_start = 0.)
test_ambient_capabilities() {
    plan ambient_uid ambient_capamb ambient_capeff ambient_reads_secret plain_no_caps plain_cannot_read
    local sec mask
    sec=$(mk_layer secret)
    echo secret > "$sec/secret"
    chmod 0600 "$sec/secret"
    mask=$(caps_mask 1 10)
    manifest <<EOF
$(system_section)
[container amb]
layers = $sec:$LAYERS/base
command = /bin/probe ids status read /secret exit 0
user = 1000
ambient_capabilities = CAP_DAC_OVERRIDE CAP_NET_BIND_SERVICE
restart = no

[container plain]
layers = $sec:$LAYERS/base
command = /bin/probe ids status read /secret exit 0
user = 1000
restart = no
EOF
    keel_start
    keel_wait 30 || fail "keel did not exit although every container exits ($WHY)"
    [ -n "$(c_value amb read:/secret)" ] && [ -n "$(c_value plain read:/secret)" ] ||
        fail "amb or plain did not run"
    check ambient_uid "the container does not run as uid 1000" eq "$(c_value amb uid)" 1000
    check ambient_capamb "CapAmb of the uid-1000 process" eq "$(c_value amb CapAmb)" "$mask"
    check ambient_capeff "CapEff of the uid-1000 process" eq "$(c_value amb CapEff)" "$mask"
    check ambient_reads_secret "uid 1000 with ambient DAC_OVERRIDE cannot read a root-only file" \
        eq "$(c_value amb read:/secret)" ok
    check plain_no_caps "uid 1000 without ambient_capabilities holds capabilities" \
        eq "$(c_value plain CapAmb)/$(c_value plain CapEff)" 0000000000000000/0000000000000000
    check plain_cannot_read "uid 1000 without the capability read a root-only file" \
        eq "$(c_value plain read:/secret)" EACCES
}

# ---- seccomp and no_new_privs --------------------------------------------------------------

# default: Seccomp 2, NoNewPrivs 1, mkdir allowed (the positive control for
# the profile's refusal); unconfined: Seccomp 0; a profile PATH refusing
# mkdir/mkdirat with EPERM: Seccomp 2 and mkdir fails; no_new_privs = no:
# NoNewPrivs 0, with the default filter still in (Seccomp 2).
test_seccomp_and_nnp() {
    plan seccomp_default seccomp_default_mkdir nnp_default seccomp_unconfined seccomp_profile_loaded \
         seccomp_profile_refuses nnp_off nnp_off_filter_kept
    cat > "$T/nomkdir.seccomp" <<'EOF'
# test profile: everything but mkdir
default allow
errno mkdir EPERM
errno mkdirat EPERM
EOF
    manifest <<EOF
$(system_section)
$(ctr def "/bin/probe status mkdir /made exit 0" "upper = tmpfs")
$(ctr unc "/bin/probe status mkdir /made exit 0" "upper = tmpfs
seccomp = unconfined")
$(ctr prof "/bin/probe status mkdir /made exit 0" "upper = tmpfs
seccomp = $T/nomkdir.seccomp")
$(ctr nnp "/bin/probe status exit 0" "no_new_privs = no")
EOF
    keel_start
    keel_wait 30 || fail "keel did not exit although every container exits ($WHY)"
    check seccomp_default "Seccomp of a default container" eq "$(c_value def Seccomp)" 2
    check seccomp_default_mkdir "mkdir in a default container" eq "$(c_value def mkdir:/made)" ok
    check nnp_default "NoNewPrivs of a default container" eq "$(c_value def NoNewPrivs)" 1
    check seccomp_unconfined "Seccomp with seccomp = unconfined" eq "$(c_value unc Seccomp)" 0
    check seccomp_profile_loaded "Seccomp with seccomp = PATH" eq "$(c_value prof Seccomp)" 2
    check seccomp_profile_refuses "mkdir under a profile that refuses it" eq "$(c_value prof mkdir:/made)" EPERM
    check nnp_off "NoNewPrivs with no_new_privs = no" eq "$(c_value nnp NoNewPrivs)" 0
    check nnp_off_filter_kept "Seccomp with no_new_privs = no" eq "$(c_value nnp Seccomp)" 2
}

# ---- rlimit ----------------------------------------------------------------------------

# limit LINE-PREFIX NAME: "SOFT HARD" of a /proc/self/limits line printed by
# container NAME (e.g. limit "Max open files" c).
limit() {
    c_lines "$2" | awk -v p="$1" 'index($0, p) == 1 { n = split(substr($0, length(p) + 1), f, " "); print f[1], f[2] }' |
        tail -n 1
}

# keel is started with nofile 777:20000 (or less) here and raises its own soft
# limit to its hard one (it holds a dozen fds per container), so a container
# at 1024:HARD got keel's default, neither what keel was given nor keel's own.  HARD is 524288 where keel may
# raise its hard limit (CAP_SYS_RESOURCE); without that capability (this
# project's build sandbox) keel keeps its own hard limit, as documented.
test_rlimit() {
    plan rlimit_keel_differs rlimit_nofile rlimit_cpu rlimit_memlock rlimit_default_nofile rlimit_default_other
    local own
    own=$(ulimit -Hn)
    if [ "$own" = unlimited ] || [ "$own" -gt 20000 ]; then own=20000; fi
    if ! ulimit -Hn "$own" || ! ulimit -Sn 777; then fail "cannot lower the test's own nofile limit"; fi
    manifest <<EOF
$(system_section)
$(ctr lim "/bin/sh -c 'cat /proc/self/limits; echo end; exec /bin/probe trap TERM sleep inf'" "rlimit = nofile=100:200
rlimit = cpu=3600
rlimit = memlock=65536:131072")
$(ctr dflt "/bin/sh -c 'cat /proc/self/limits; echo end; exec /bin/probe trap TERM sleep inf'")
EOF
    keel_start
    wait_out lim end || fail "lim did not print its limits ($WHY)"
    wait_out dflt end || fail "dflt did not print its limits ($WHY)"
    local k hard=524288
    k=$(keel_pid)
    check rlimit_keel_differs "keel's own nofile limit (the positive control: raised from 777 to its hard limit)" \
        eq "$(awk '/^Max open files/ { print $4, $5 }' "/proc/$k/limits" 2>/dev/null)" "$own $own"
    (( 0x$(awk '$1 == "CapEff:" { print $2 }' "/proc/$k/status") & (1 << 24) )) || hard=$own
    check rlimit_nofile "rlimit = nofile=100:200" eq "$(limit 'Max open files' lim)" "100 200"
    check rlimit_cpu "rlimit = cpu=3600 (soft = hard)" eq "$(limit 'Max cpu time' lim)" "3600 3600"
    check rlimit_memlock "rlimit = memlock=65536:131072" eq "$(limit 'Max locked memory' lim)" "65536 131072"
    check rlimit_default_nofile "the default nofile" eq "$(limit 'Max open files' dflt)" "1024 $hard"
    check rlimit_default_other "a limit the manifest does not set differs from keel's own (cpu, inherited)" \
        eq "$(limit 'Max cpu time' dflt)" "$(awk '/^Max cpu time/ { print $4, $5 }' "/proc/$k/limits" 2>/dev/null)"
    keel_stop || fail "keel did not stop ($WHY)"
}

# An explicit limit the kernel refuses (nofile above fs.nr_open) fails the
# start instead of being dropped: the container never runs; the one beside
# it with a limit that can be set runs (the positive control).
test_rlimit_refused() {
    plan rlimit_refused_never_ran rlimit_refused_reason rlimit_settable_ran
    local over
    over=$(( $(cat /proc/sys/fs/nr_open) + 1 ))
    manifest <<EOF
$(system_section)
$(ctr big "/bin/probe print big-ran exit 0" "rlimit = nofile=$over:$over")
$(ctr small "/bin/probe print small-ran exit 0" "rlimit = nofile=64:64")
EOF
    keel_start
    keel_wait 30 || fail "keel did not exit although no container keeps running ($WHY)"
    check rlimit_settable_ran "the container with a limit that can be set did not run" out_has small small-ran
    check rlimit_refused_never_ran "a container whose rlimit cannot be set ran" eq "$(c_lines big | grep -c big-ran)" 0
    check rlimit_refused_reason "no error names the refused rlimit" grep_in "big: .*rlimit nofile=$over:$over" "$ERR"
}

# ---- dns -----------------------------------------------------------------------------------

# [system] dns under keel run: the containers' /etc/resolv.conf, created on
# a writable root (w), covering the image's own file on a read-only one (ro,
# whose image says 203.0.113.9).  Without dns a container sees the host's
# (the positive control that the file is read either way).
nameservers() { c_lines "$1" | awk '$1 == "nameserver" { printf "%s ", $2 }'; }
test_dns_in_containers() {
    plan dns_created dns_covers_image dns_absent_host_file
    local img
    img=$(mk_layer resolv)
    mkdir -p "$img/etc"
    echo "nameserver 203.0.113.9" > "$img/etc/resolv.conf"
    manifest <<EOF
$(system_section)
dns = 192.0.2.53
dns = 198.51.100.7
$(ctr w "/bin/sh -c 'cat /etc/resolv.conf; echo end'" "upper = tmpfs")
[container ro]
layers = $img:$LAYERS/base
command = /bin/sh -c 'cat /etc/resolv.conf; echo end'
restart = no
EOF
    keel_start
    keel_wait 30 || fail "keel did not exit ($WHY)"
    out_has w end && out_has ro end || fail "w or ro did not run ($WHY)"
    check dns_created "the nameservers of [system] dns, in order, on a writable root" \
        eq "$(nameservers w)" "192.0.2.53 198.51.100.7 "
    check dns_covers_image "the nameservers of [system] dns over the image's file" \
        eq "$(nameservers ro)" "192.0.2.53 198.51.100.7 "
    # Without dns: the host's file (the test's mount namespace shares the host's /etc).
    manifest <<EOF
$(system_section)
$(ctr w "/bin/sh -c 'cat /etc/resolv.conf; echo end'" "upper = tmpfs")
EOF
    keel_start
    keel_wait 30 || fail "keel did not exit ($WHY)"
    out_has w end || fail "w did not run without dns ($WHY)"
    check dns_absent_host_file "without dns the container does not see the host's nameservers" \
        eq "$(nameservers w)" "$(awk '$1 == "nameserver" { printf "%s ", $2 }' /etc/resolv.conf)"
}

# ---- mtu ----------------------------------------------------------------------------------

# link_mtu IFNAME: the MTU of a link in keel's network namespace (ip, not
# /sys: this process's sysfs shows the host's namespace).
link_mtu() {
    in_ns ip -o link show dev "$1" 2>/dev/null | grep -oE ' mtu [0-9]+' | awk '{ print $2 }'
}
# veth_mtus BRIDGE: the MTUs of the links enslaved to BRIDGE (host side veths).
veth_mtus() {
    in_ns ip -o link show master "$1" 2>/dev/null | grep -oE ' mtu [0-9]+' | awk '{ print $2 }' |
        sort -u | tr '\n' ' '
}

# [network n] mtu = 1400: the bridge, the host side of the veth and the
# container's eth0; keel0 beside it keeps the default 1500 (the positive
# control that the value read is the one set).
test_mtu() {
    plan mtu_bridge mtu_veth mtu_eth0 mtu_default
    manifest <<EOF
$(system_section)
[network n$$]
subnet = 10.77.0.0/24
mtu = 1400
$(ctr c "/bin/probe trap TERM read /sys/class/net/eth0/mtu print up sleep inf" "network = bridge
bridge = n$$")
$(ctr d "/bin/probe trap TERM read /sys/class/net/eth0/mtu print up sleep inf" "network = bridge")
EOF
    keel_start
    wait_out c up || fail "c did not come up ($WHY)"
    wait_out d up || fail "d did not come up ($WHY)"
    check mtu_bridge "MTU of the bridge n$$" eq "$(link_mtu "n$$")" 1400
    check mtu_veth "MTU of the veth on n$$" eq "$(veth_mtus "n$$")" "1400 "
    check mtu_eth0 "MTU of the container's eth0" eq "$(c_value c data:/sys/class/net/eth0/mtu)" 1400
    check mtu_default "MTU of keel0, its veth and eth0 (default)" \
        eq "$(link_mtu keel0)/$(veth_mtus keel0)/$(c_value d data:/sys/class/net/eth0/mtu)" "1500/1500 /1500"
    keel_stop || fail "keel did not stop ($WHY)"
}

# ---- UDP published port ----------------------------------------------------------------

# A UDP echo server in a bridge container published as 5301/udp (every host
# address) and as 127.0.0.1:5302/udp; the client is the probe in the test's
# namespace (keel's host side).  5301 answers at 127.0.0.1 and at the gateway
# address (the positive control for the last check), 5302 at 127.0.0.1 only.
# Retried (bounded): the first datagram may race the server's bind.
udp_ask() { # HOST PORT
    in_ns "$PROBE" connect-udp "$1" "$2" > "$T/udp.$1.$2" 2>&1
    grep -q '=ok reply=ping$' "$T/udp.$1.$2"
}
test_udp_port() {
    plan udp_listening udp_localhost udp_gateway udp_host_ip udp_host_ip_only
    manifest <<EOF
$(system_section)
$(ctr u "/bin/probe trap TERM listen udp 53" "network = bridge
ports = 5301:53/udp
ports = 127.0.0.1:5302:53/udp")
EOF
    keel_start
    wait_out u listening=udp:53 || fail "u did not listen ($WHY)"
    check udp_listening "the server is up" eq "$(c_value u listening)" udp:53
    wait_until 20 udp_ask 127.0.0.1 5301
    check udp_localhost "no answer through 127.0.0.1:5301/udp" eq "$(cat "$T/udp.127.0.0.1.5301")" \
        "connect-udp:127.0.0.1:5301=ok reply=ping"
    wait_until 20 udp_ask 172.30.0.1 5301
    check udp_gateway "no answer through 172.30.0.1:5301/udp" eq "$(cat "$T/udp.172.30.0.1.5301")" \
        "connect-udp:172.30.0.1:5301=ok reply=ping"
    wait_until 20 udp_ask 127.0.0.1 5302
    check udp_host_ip "no answer through 127.0.0.1:5302/udp" eq "$(cat "$T/udp.127.0.0.1.5302")" \
        "connect-udp:127.0.0.1:5302=ok reply=ping"
    udp_ask 172.30.0.1 5302
    check udp_host_ip_only "a port published on 127.0.0.1 answered at the gateway address" \
        no_grep_in 'reply=' "$T/udp.172.30.0.1.5302"
    keel_stop || fail "keel did not stop ($WHY)"
}

# ---- a one-shot dependency -------------------------------------------------------------

# setup (exit 0) and setup2 (exit 1) are one-shots; app depends on setup,
# app2 on setup2, and both on gate:ready.  gate turns ready only when the
# test creates /mnt/go, which it does once both one-shots have exited: so
# the dependants' start is decided while the one-shots are over (not while
# they run, which `depends = NAME` also accepts).  app must start and see
# what setup left; app2 must stay waiting (the same decision that started
# app: the positive control) and never run.
test_oneshot_dependency() {
    plan oneshot_ok_starts oneshot_ok_after oneshot_fail_waits oneshot_fail_never_ran
    mkdir -p "$T/share"
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)
$(ctr setup "/bin/probe write /mnt/setup-done exit 0" "mount = $T/share:/mnt")
$(ctr setup2 "/bin/probe exit 1")
$(ctr gate "/bin/sh -c 'i=0; while [ ! -e /mnt/go ] && [ \$i -lt 2400 ]; do sleep 0.05; i=\$((i+1)); done; echo >&3; exec /bin/probe trap TERM sleep inf'" "mount = $T/share:/mnt:ro
ready = fd:3")
$(ctr app "/bin/probe read /mnt/setup-done print app-ran exit 0" "mount = $T/share:/mnt:ro
depends = setup gate:ready")
$(ctr app2 "/bin/probe print app2-ran exit 0" "depends = setup2 gate:ready")
EOF
    keel_start
    wait_until $((10 * SLOW)) test -S "$(SOCK)" || fail "no control socket at $(SOCK)"
    wait_until 20 eval '[ "$(ps_field setup last_exit.code)" = 0 ] && [ "$(ps_field setup2 last_exit.code)" = 1 ]' ||
        fail "the one-shots did not exit 0 and 1 (setup: $(ps_field setup state) $(ps_field setup last_exit.code), setup2: $(ps_field setup2 state) $(ps_field setup2 last_exit.code))"
    local before
    before=$(ps_field app state)/$(ps_field app2 state)
    touch "$T/share/go"
    wait_out app app-ran 20
    check oneshot_ok_starts "app did not start after its one-shot dependency exited 0 (states before: $before)" \
        out_has app app-ran
    check oneshot_ok_after "app did not see what the one-shot left" eq "$(c_value app read:/mnt/setup-done)" ok
    check oneshot_fail_waits "app2 (its dependency exited 1) is not waiting" eq "$(ps_field app2 state)" waiting
    keel_stop || fail "keel did not stop ($WHY)"
    check oneshot_fail_never_ran "app2 ran although its dependency exited 1" eq "$(c_lines app2)" ""
}

# `depends = network-online clock` with nothing in keel that would set them
# (no DHCP uplink, no ntp): both are met from the start, the container runs
# at once; its peer without the conditions is the positive control that keel
# started anything at all.  The plan names the conditions.
test_conditions_met_at_once() {
    plan conditions_plan conditions_peer_ran conditions_ran
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)
$(ctr peer "/bin/probe print peer-ran exit 0")
$(ctr app "/bin/probe print app-ran exit 0" "depends = network-online clock")
EOF
    check conditions_plan "check --plan does not name the conditions" \
        eval '"$KEEL" check --plan "$T/keel.ini" | grep -qx "  after: condition network-online" && "$KEEL" check "$T/keel.ini" | grep -qx "depends = clock"'
    keel_start
    wait_out peer peer-ran 20
    check conditions_peer_ran "the peer did not run" out_has peer peer-ran
    wait_out app app-ran 20
    check conditions_ran "a container waiting only for conditions nothing sets did not start" out_has app app-ran
    keel_stop || fail "keel did not stop ($WHY)"
}

# start_timeout's failure names the dependency that held the container back.
# app depends on setup (a one-shot that exits 0, so satisfied) and on
# gate:ready (never ready).  app's first timeout may come while setup is
# still starting; keel restart app after setup has exited starts a second
# wait, whose reason must name gate: setup, done with status 0, held nothing
# back.
test_oneshot_timeout_reason() {
    plan timeout_first_failed timeout_names_blocker
    manifest <<EOF
$(system_section)
control = unix://$(SOCK)
$(ctr setup "/bin/probe exit 0")
$(ctr gate "/bin/probe trap TERM sleep inf" "ready = fd:3")
$(ctr app "/bin/probe print app-ran exit 0" "depends = setup gate:ready
start_timeout = 1s")
EOF
    keel_start
    wait_until $((10 * SLOW)) test -S "$(SOCK)" || fail "no control socket at $(SOCK)"
    wait_until 20 eval '[ "$(ps_field setup last_exit.code)" = 0 ] && [ "$(ps_field app state)" = failed ]'
    check timeout_first_failed "app did not fail at its start_timeout, or setup did not exit 0 (app: $(ps_field app state), setup: $(ps_field setup last_exit.code))" \
        eq "$(ps_field app state)/$(ps_field setup last_exit.code)" failed/0
    kc restart app > "$T/restart.out" 2>&1 || fail "keel restart app failed: $(cat "$T/restart.out")"
    wait_until 20 eval '[ "$(ps_field app state)" = failed ]' || fail "app did not fail again (state $(ps_field app state))"
    check timeout_names_blocker "the start_timeout failure does not name gate, the dependency that held app back" \
        grep_in '^dependency gate did not become ready within 1000 ms$' <(ps_field app failure)
    keel_stop || fail "keel did not stop ($WHY)"
}

run_tests "$@"
