#!/bin/bash
# test_watchdog.sh — issue 7 in the VM: the hardware watchdog and crash
# escalation, with keel as PID 1 and QEMU's emulated i6300ESB watchdog
# (`-device i6300esb`, Debian's i6300esb module loaded through `modules =`),
# whose action is to power the machine off (`-action watchdog=poweroff`, or
# `-watchdog-action poweroff` on an older QEMU).  Two boots:
#
#  1. freeze: watchdog_timeout = 2s and the test hook keel.test_freeze=8 on
#     the kernel command line.  keel runs (and pets) for 8 s after boot —
#     several timeouts, whenever the watchdog got armed — then stops its
#     event loop on purpose.  The watchdog must fire:
#     QEMU reports a WATCHDOG event on its QMP socket and ends with no kernel
#     shutdown line.
#  2. escalation: the same watchdog; a container that always fails with
#     restart = on-failure:2 and on_crashloop = poweroff, and a container that
#     ignores SIGTERM (stop_timeout 4 s, twice the watchdog timeout, so the
#     shutdown itself lasts longer than the timeout).  keel must give up on the
#     crasher, stop everything, disarm the watchdog (magic close) and power the
#     machine off cleanly ("reboot: Power down"), and the watchdog must never
#     fire: not during the ~10 s of normal operation (five timeouts), not
#     during the slow stop, not after the disarm.
#
# Relies on keel's console lines: "watchdog DEV (IDENTITY) armed: timeout N s",
# "watchdog DEV disarmed (the kernel says: inactive)", "test hook:
# keel.test_freeze: keel stops serving now" (daemon.c's test hook),
# "NAME: failed: gave up after N
# restarts", "stopping all containers (WHY)", "all containers are down".
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
cd "$VM_REPO"
vm_require_test_keel "watchdog: image"
if ! command -v python3 >/dev/null 2>&1; then
    vm_skip "watchdog: all" "python3 missing (reads QEMU's QMP events; make deps installs it)"
    exit 0
fi

# The watchdog action: -action (QEMU >= 6.0) or the older -watchdog-action.
if qemu-system-x86_64 -help 2>/dev/null | grep -q '^-action '; then
    WD_ACTION=(-action watchdog=poweroff)
else
    WD_ACTION=(-watchdog-action poweroff)
fi

# --- the image -------------------------------------------------------------------
extra=$VM_OUT/watchdog-extra
rm -rf "$extra"
mkdir -p "$extra/etc/keel"

cat > "$extra/etc/keel/freeze.ini" <<'INI'
[system]
modules = overlay i6300esb
watchdog = /dev/watchdog
watchdog_timeout = 2s
stop_timeout = 2

[container idle]
layers = /layers/base
command = /bin/sh -c "echo idle-up; trap 'exit 0' TERM; sleep 1000 & wait"
INI

# PID 1 of a PID namespace ignores SIGTERM without a handler: slowstop is
# killed only when its stop_timeout expires.
cat > "$extra/etc/keel/crash.ini" <<'INI'
[system]
modules = overlay i6300esb
watchdog = /dev/watchdog
watchdog_timeout = 2s
stop_timeout = 4

[container slowstop]
layers = /layers/base
command = /bin/sh -c "echo slowstop-up; while :; do sleep 1; done"
restart = no

[container crasher]
layers = /layers/base
command = /bin/sh -c "echo crasher-run; sleep 2; exit 1"
restart = on-failure:2
restart_delay = 1s
on_crashloop = poweroff
INI

img=$VM_OUT/watchdog.cpio
vm_image "watchdog: image" "$extra/etc/keel/freeze.ini" "$extra" "$img"

# qmp_events NAME: records QEMU's QMP events of the VM NAME into
# $VM_OUT/NAME.events until QEMU exits (the event of a watchdog that fires is
# sent before QEMU acts on it).  Runs in the background; QMP_PID is its pid.
qmp_events() {
    local sock=$VM_OUT/$1.qmp out=$VM_OUT/$1.events
    : > "$out"
    python3 - "$sock" "$out" <<'PY' &
import json, socket, sys, time
sock, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
for _ in range(100):
    try:
        s.connect(sock)
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit(1)
f = s.makefile("rw")
f.readline()                                  # the greeting
f.write('{"execute": "qmp_capabilities"}\n')
f.flush()
with open(out, "a") as o:
    for line in f:
        msg = json.loads(line)
        if "event" in msg:
            o.write(json.dumps(msg) + "\n")
            o.flush()
PY
    QMP_PID=$!
}

# keel_time REGEX: the monotonic timestamp of keel's first console line matching REGEX.
keel_time() {
    grep -aE -- "$1" "$VM_CONSOLE" | head -n 1 | sed -nE 's/^\[ *([0-9]+\.[0-9]+)\].*/\1/p'
}

WD_DEV=(-device i6300esb "${WD_ACTION[@]}")

# --- boot 1: keel freezes, the watchdog fires ---------------------------------------
name=keel-wd-freeze
vm_start "$name" "$img" "keel.manifest=/etc/keel/freeze.ini keel.test_freeze=8" -- \
    "${WD_DEV[@]}" -qmp "unix:$VM_OUT/$name.qmp,server=on,wait=off"
qmp_events "$name"
vm_wait 'idle \| idle-up' 60
vm_assert "watchdog: armed with the timeout the driver took" \
    'keel: watchdog /dev/watchdog \(i6300ESB timer\) armed: timeout 2 s, petted every 666 ms'
vm_wait_end 90
wait "$QMP_PID" 2>/dev/null
vm_assert "watchdog: the test hook freezes keel's loop" 'keel: warning: test hook: keel.test_freeze: keel stops serving now'
# Cause and order: the watchdog powers QEMU off the moment it fires, so a
# freeze line after the armed line means it did not fire while keel petted
# it.  That this span was longer than one timeout (else the check proves
# nothing) is a lower bound with slack: the hook fires 8 s after boot, the
# arming came within the first seconds (the span only needs 2).
t_armed=$(keel_time 'keel: watchdog /dev/watchdog .*armed')
t_frozen=$(keel_time 'keel: warning: test hook: keel.test_freeze: keel stops serving now')
l_armed=$(vm_line 'keel: watchdog /dev/watchdog .*armed')
l_frozen=$(vm_line 'keel: warning: test hook: keel.test_freeze: keel stops serving now')
if [ "$l_armed" -gt 0 ] && [ "$l_frozen" -gt "$l_armed" ] &&
    awk -v a="$t_armed" -v b="$t_frozen" 'BEGIN { exit !(a != "" && b != "" && b - a > 2) }'; then
    vm_ok "watchdog: does not fire while keel pets it (more than a timeout, until the freeze)"
else
    vm_not_ok "watchdog: does not fire while keel pets it (more than a timeout, until the freeze)" \
        "armed at line $l_armed (${t_armed:-?} s), frozen at line $l_frozen (${t_frozen:-?} s)"
fi
if grep -q '"event": "WATCHDOG"' "$VM_OUT/$name.events" && [ "$VM_END" = gone ]; then
    vm_ok "watchdog: fires when keel stops petting it (QEMU powered off by the watchdog)"
else
    vm_not_ok "watchdog: fires when keel stops petting it (QEMU powered off by the watchdog)" \
        "ended: $VM_END; QMP events: $(tr '\n' ' ' < "$VM_OUT/$name.events")"
fi
vm_refute "watchdog: no kernel panic while frozen" 'Kernel panic|Attempted to kill init'

# --- boot 2: crash escalation to a clean poweroff, the watchdog never fires ----------------
name=keel-wd-crash
vm_start "$name" "$img" "keel.manifest=/etc/keel/crash.ini" -- \
    "${WD_DEV[@]}" -qmp "unix:$VM_OUT/$name.qmp,server=on,wait=off"
qmp_events "$name"
vm_wait_end 60
wait "$QMP_PID" 2>/dev/null
vm_assert "escalation: the crasher was restarted twice" 'keel: crasher: restarting in 2000 ms \(restart 2\)'
vm_assert "escalation: keel gives up on it" 'keel: error: crasher: failed: gave up after 2 restarts'
l_failed=$(vm_line 'keel: error: crasher: failed: gave up')
l_stop=$(vm_line 'keel: stopping all containers \(gave up after 2 restarts\)')
if [ "$l_failed" -gt 0 ] && [ "$l_stop" -gt "$l_failed" ]; then
    vm_ok "escalation: on_crashloop = poweroff stops everything"
else
    vm_not_ok "escalation: on_crashloop = poweroff stops everything" "failed at line $l_failed, stop at line $l_stop"
fi
vm_assert "escalation: the other container is stopped (killed at its stop_timeout)" \
    'keel: warning: slowstop: did not stop within 4000 ms, killing it'
vm_assert "escalation: filesystems unmounted" 'keel: filesystems unmounted: [0-9]+, detached busy: [0-9]+, failed: 0'
vm_end_is "escalation: the machine powers off cleanly" poweroff
# Order instead of a measured span: after the arming come keel's own waits
# (two 2000 ms restart delays, a 4000 ms stop_timeout: each longer than the
# 2 s watchdog timeout), then all containers down, and QEMU reported no
# WATCHDOG event: keel petted it through each of them.
l_armed=$(vm_line 'keel: watchdog /dev/watchdog .*armed')
l_r2=$(vm_line 'keel: crasher: restarting in 2000 ms \(restart 2\)')
l_kill=$(vm_line 'keel: warning: slowstop: did not stop within 4000 ms, killing it')
l_down=$(vm_line 'keel: all containers are down')
if [ "$l_armed" -gt 0 ] && [ "$l_r2" -gt "$l_armed" ] && [ "$l_kill" -gt "$l_r2" ] && [ "$l_down" -gt "$l_kill" ] &&
    ! grep -q '"event": "WATCHDOG"' "$VM_OUT/$name.events"; then
    vm_ok "watchdog: does not fire in normal operation and a slow stop (waits longer than its timeout)"
else
    vm_not_ok "watchdog: does not fire in normal operation and a slow stop (waits longer than its timeout)" \
        "lines: armed $l_armed, restart 2 $l_r2, kill $l_kill, down $l_down; QMP events: $(tr '\n' ' ' < "$VM_OUT/$name.events")"
fi
vm_assert "watchdog: disarmed by the clean shutdown (magic close)" \
    'keel: watchdog /dev/watchdog disarmed \(the kernel says: inactive\)'
vm_refute "watchdog: the kernel saw no unclean close" 'watchdog did not stop'
l_disarm=$(vm_line 'keel: watchdog /dev/watchdog disarmed')
l_down=$(vm_line 'keel: all containers are down')
if [ "$l_down" -gt 0 ] && [ "$l_disarm" -gt "$l_down" ]; then
    vm_ok "watchdog: petted until the containers are down, disarmed after"
else
    vm_not_ok "watchdog: petted until the containers are down, disarmed after" \
        "down at line $l_down, disarmed at line $l_disarm"
fi
