#!/bin/bash
# test_boot.sh — keel as PID 1 (issue 3), end to end: the static keel from
# $KEEL in an image built by initramfs/mkinitramfs, booted under QEMU TCG, its
# serial console read.  One image holds several manifests; keel.manifest= on
# the kernel command line picks one per boot.  Checks are grouped per boot to
# keep the suite short (a boot costs 3-6 s of TCG time).  Boots 9-12 show the
# failure actions firing: on_error = reboot (a second boot on the console),
# on_error = shell with rescue_shell (which also reads hostname, sysctl and dns
# back from the machine), on_unhealthy = poweroff and = reboot.
#
# What keel prints is the project's convention (docs, helper brief):
#   "[ t ] keel: stage: ..."  boot stages; "NAME | line" container output;
#   "NAME: started, pid P" / "exited with status N" / "stopping" / "stopped".
set -u
. "$(dirname "$0")/lib.sh"
cd "$VM_REPO"

vm_require_keel "keel: image"

# --- the image -------------------------------------------------------------------
extra=$VM_OUT/boot-extra
rm -rf "$extra"
mkdir -p "$extra/etc/keel" "$extra/layers/probe/hostproc"

# The probe runs in a container with the host's network and the host's /proc
# bind-mounted at /hostproc, so it can report facts about the whole machine
# (PID 1, its mounts, zombies) as well as about itself.
cat > "$extra/layers/probe/probe.sh" <<'SH'
#!/bin/sh
echo "facts: container pid $$"
echo "facts: root fs $(awk '$2 == "/" { print $3 }' /proc/mounts | tail -n 1)"
echo "facts: pid1 $(cat /hostproc/1/comm)"
echo "facts: host mounts $(awk '{ printf "%s:%s ", $2, $3 }' /hostproc/1/mounts)"
echo "facts: pid1 cgroup $(cat /hostproc/1/cgroup)"
echo "facts: keel binary mount $(awk '$2 == "/init" { split($4, o, ","); print o[1] }' /hostproc/1/mounts)"
# modules_split: some modules load after the first start (db's), in the
# background; wait for every listed one (bounded), then report them.
for i in $(seq 600); do
    n=0
    for mod in overlay veth bridge e1000 button evdev nft_nat nf_conntrack_netlink; do
        grep -q "^$mod " /proc/modules && n=$((n + 1))
    done
    [ "$n" = 8 ] && break
    sleep 0.1
done
echo "facts: modules $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
echo "facts: $(/i386-door)"
echo "facts: swappiness $(cat /proc/sys/vm/swappiness)"
echo "facts: eth0 $(ip -4 -o addr show dev eth0 | awk '{ print $4 }')"
echo "facts: default route $(ip route | awk '$1 == "default" { print $3 }')"
# Orphans: each subshell exits at once, leaving its sleep to be reparented.
i=0
while [ $i -lt 40 ]; do (sleep 0.1 &); i=$((i + 1)); done
sleep 1.5
echo "facts: zombies $(grep -l '^State:.*Z' /hostproc/[0-9]*/status 2>/dev/null | wc -l)"
echo "facts: done"
# PID 1 of a namespace ignores signals it has no handler for: trap TERM so a
# stop is quick (wait returns at once when the trapped signal arrives).
trap 'exit 0' TERM
sleep 1000 &
wait
SH
chmod +x "$extra/layers/probe/probe.sh"
# The i386 door through the default seccomp filter (the guest's kernel has ia32
# emulation; the build machine's may not).
vm_payload "keel: image" tests/vm/i386-door.c "$extra/layers/probe/i386-door"

# main.ini: the full system; facts depends on db (stop order: facts, then db).
# modules_split: db starts first and needs overlay only (e1000, unknown to
# keel's plan, and the bridge and nf_tables pieces keel's set-up needs
# before any start load before it too); veth and nft_nat (late's), button,
# evdev and nf_conntrack_netlink load after db's start.  late, on the bridge with a published
# port, must wait for them: without the hold its veth could not be made.
cat > "$extra/etc/keel/main.ini" <<'INI'
[system]
hostname = vmtest
modules = overlay veth bridge e1000 button evdev
modules = nf_tables nft_chain_nat nft_nat nft_masq nft_ct nft_fib_inet nf_conntrack_netlink
modules_split = yes
sysctl = vm.swappiness=13
dns = 10.0.2.3
stop_timeout = 3

[interface eth0]
address = 10.0.2.15/24
gateway = 10.0.2.2

[container db]
layers = /layers/base
command = /bin/sh -c "echo db-up; trap 'exit 0' TERM; sleep 1000 & wait"
restart = always

[container facts]
layers = /layers/probe:/layers/base
upper = tmpfs
command = /bin/sh /probe.sh
network = host
mount = /proc:/hostproc:ro
depends = db
restart = no

[container late]
layers = /layers/base
command = /bin/sh -c "echo late-up; grep -q '^veth ' /proc/modules && echo late-veth-loaded; trap 'exit 0' TERM; sleep 1000 & wait"
network = bridge
ports = 8080:80/tcp
restart = no
INI

# dhcp.ini: main.ini with the uplink from QEMU's user-mode DHCP server (boot 2);
# `online` waits for the lease (depends = network-online) and reports what it got.
sed -e 's|^address = 10.0.2.15/24|address = dhcp|' -e '/^gateway = /d' -e '/^dns = /d' \
    "$extra/etc/keel/main.ini" > "$extra/etc/keel/dhcp.ini"
cat >> "$extra/etc/keel/dhcp.ini" <<'INI'

[container online]
layers = /layers/probe:/layers/base
upper = tmpfs
network = host
depends = network-online
restart = no
mount = /etc:/hostetc:ro
command = /bin/sh /online.sh
INI
cat > "$extra/layers/probe/online.sh" <<'SH'
#!/bin/sh
echo "online: eth0 $(ip -4 -o addr show dev eth0 | awk '{ print $4 }')"
echo "online: default route $(ip route | awk '$1 == "default" { print $3 }')"
echo "online: machine $(grep nameserver /hostetc/resolv.conf)"
echo "online: $(grep nameserver /etc/resolv.conf)"
trap 'exit 0' TERM
sleep 1000 &
wait
SH
chmod +x "$extra/layers/probe/online.sh"

# One manifest per on_exit policy: the main container exits with status 3.
for policy in poweroff reboot halt stay; do
    cat > "$extra/etc/keel/exit-$policy.ini" <<INI
[system]
modules = overlay
on_exit = $policy
stop_timeout = 2

[container side]
layers = /layers/base
command = /bin/sh -c "trap 'exit 0' TERM; sleep 1000 & wait"

[container app]
layers = /layers/base
command = /bin/sh -c "echo app-running; sleep 0.5; exit 3"
main = yes
restart = no
INI
done

cat > "$extra/etc/keel/bad.ini" <<'INI'
[system]
hostname = bad
[container x]
layers = /layers/base
no_such_key = 1
INI

cat > "$extra/etc/keel/nomod.ini" <<'INI'
[system]
modules = overlay nosuchmodule
[container x]
layers = /layers/base
command = /bin/true
INI

# A module that cannot be loaded after the first start (modules_split; not
# in the image) is the boot error it was before the split: the container
# that started is stopped, then on_error (poweroff).
cat > "$extra/etc/keel/latemod.ini" <<'INI'
[system]
modules = overlay gpio_keys
modules_split = yes
stop_timeout = 2
[container x]
layers = /layers/base
command = /bin/sh -c "echo x-up; trap 'exit 0' TERM; sleep 1000 & wait"
restart = no
INI

# on_error = reboot: the same missing module; the machine must reboot (the
# boot runs without -no-reboot, so the console shows a second boot).
cat > "$extra/etc/keel/error-reboot.ini" <<'INI'
[system]
modules = overlay nosuchmodule
on_error = reboot
[container x]
layers = /layers/base
command = /bin/true
INI

# on_error = shell: hostname, sysctl and dns are applied, then an interface
# that does not exist fails the boot; the rescue shell reads those effects
# from the machine (as a process of the root namespaces), and its session and
# controlling terminal, then exits: keel powers off.
cat > "$extra/etc/keel/error-shell.ini" <<'INI'
[system]
hostname = rescued
modules = overlay
sysctl = vm.swappiness=17
dns = 10.0.2.3
on_error = shell
rescue_shell = /rescue.sh
[interface nosuch0]
address = 10.9.9.9/24
[container x]
layers = /layers/base
command = /bin/true
INI
cat > "$extra/rescue.sh" <<'SH'
#!/layers/base/bin/sh
PATH=/layers/base/bin
set -- $(cat /proc/$$/stat)
echo "rescue: hostname $(hostname)"
echo "rescue: swappiness $(cat /proc/sys/vm/swappiness)"
echo "rescue: nameserver $(awk '$1 == "nameserver" { print $2 }' /etc/resolv.conf)"
# /proc/PID/stat: field 6 is the session, field 7 the controlling tty (0: none).
echo "rescue: pid $$ session $6 tty_nr $7"
echo "rescue: done"
SH
chmod 0755 "$extra/rescue.sh"

# on_unhealthy = poweroff | reboot: sick's check always fails; side must be
# stopped by the shutdown sequence.
for action in poweroff reboot; do
    cat > "$extra/etc/keel/unhealthy-$action.ini" <<INI
[system]
modules = overlay
stop_timeout = 2

[container side]
layers = /layers/base
command = /bin/sh -c "echo side-up; trap 'exit 0' TERM; sleep 1000 & wait"

[container sick]
layers = /layers/base
command = /bin/sh -c "trap 'exit 0' TERM; sleep 1000 & wait"
health = /bin/false
health_interval = 500ms
health_retries = 2
on_unhealthy = $action
INI
done

# idle10.ini (issue 17): PID 1 with 10 idle containers, its peak resident set
# (VmHWM) read by the tenth once the nine others run.  keel's text here comes
# from the initramfs (shmem, small pages): what it maps is the 64 KiB
# fault-around windows of the code it runs (link/hot.ld keeps that together).
{
    printf '[system]\nmodules = overlay\nstop_timeout = 2\n'
    for i in 1 2 3 4 5 6 7 8 9; do
        printf '\n[container i%d]\nlayers = /layers/base\ncommand = /bin/sleep 1000000\n' "$i"
    done
    printf '\n[container rss]\nlayers = /layers/probe:/layers/base\nupper = tmpfs\n'
    printf 'mount = /proc:/hostproc:ro\ncommand = /bin/sh /rss.sh\nrestart = no\n'
} > "$extra/etc/keel/idle10.ini"
cat > "$extra/layers/probe/rss.sh" <<'SH'
#!/bin/sh
for i in $(seq 600); do
    [ "$(grep -l '^Name:.*sleep' /hostproc/[0-9]*/status 2>/dev/null | wc -l)" -ge 9 ] && break
    sleep 0.1
done
echo "rss: sleeping $(grep -l '^Name:.*sleep' /hostproc/[0-9]*/status 2>/dev/null | wc -l)" \
     "pid1 $(cat /hostproc/1/comm) $(grep -E '^(VmHWM|VmRSS|RssAnon|RssFile|RssShmem):' /hostproc/1/status | tr -s ' \t\n' ' ')"
trap 'exit 0' TERM
sleep 1000 &
wait
SH
chmod +x "$extra/layers/probe/rss.sh"

img=$VM_OUT/boot.cpio
vm_image "keel: image" "$extra/etc/keel/main.ini" "$extra" "$img"

NIC=(-nic user,model=e1000)

# --- boot 1: the full system, then QEMU's system_powerdown -----------------------------
# Hostile words on the command line, which the kernel hands to init (as its
# environment, or argv): KEEL_BOOT_MOVED=1 once made keel skip leaving rootfs
# (then no container could pivot_root: facts would never run) and the
# read-only bind of its binary; the test hooks are compiled only into the test
# build (tests/vm/test_faults.sh and test_watchdog.sh show that one acting on
# them), so this release keel must neither crash (a reboot) nor freeze (no
# output relayed, no clean poweroff) 1 ms after it is ready.
vm_start keel-main "$img" "keel.manifest=/etc/keel/main.ini KEEL_BOOT_MOVED=1 keel.test_crash=1ms keel.test_freeze=1ms" \
    -- "${NIC[@]}"
vm_wait_ok "boot: keel boots and runs its containers" 'facts: done' 90
vm_assert "boot: keel is PID 1" 'facts \| facts: pid1 init'
vm_assert "boot: stage keel start" 'keel: stage: keel .*starting as PID 1'
vm_assert "boot: stage mounts done" 'keel: stage: mounts done'
vm_assert "boot: stage modules loaded" 'keel: stage: modules loaded'
vm_assert "boot: stage modules before the first start, counted and timed" \
    'keel: stage: modules before the first start: [0-9]+ loaded in [0-9]+ ms; 5 after it'
vm_wait_ok "boot: stage modules after the first start, counted and timed" \
    'keel: stage: modules after the first start: [0-9]+ loaded in [0-9]+ ms \(1 loader\)' 60
# The split's order: db's exec, then the late modules, then late's start
# (held by the 'modules' condition; its veth exists only then).
l_db=$(vm_line 'keel: db: started')
l_after=$(vm_line 'keel: stage: modules after the first start')
vm_wait 'late \| late-up' 60
l_late=$(vm_line 'keel: late: started')
if [ "$l_db" -gt 0 ] && [ "$l_after" -gt "$l_db" ] && [ "$l_late" -gt "$l_after" ]; then
    vm_ok "boot: modules_split: the first container starts before the late modules, late after them"
else
    vm_not_ok "boot: modules_split: the first container starts before the late modules, late after them" \
        "db started at line $l_db, late modules at $l_after, late started at $l_late"
fi
vm_assert "boot: modules_split: the container held for its modules finds them loaded" 'late \| late-veth-loaded'
vm_assert "boot: stage network up" 'keel: stage: network up'
vm_assert "boot: stage container exec" 'keel: stage: .*(db|facts)'
vm_assert_each "boot: pseudo-filesystems mounted" 'facts: host mounts (.* )?{} ' \
    /proc:proc /sys:sysfs /dev:devtmpfs /dev/pts:devpts /dev/shm:tmpfs /run:tmpfs /tmp:tmpfs /sys/fs/cgroup:cgroup2
# (Seen from the probe's cgroup namespace, keel/containers/facts: ../../supervisor.)
vm_assert "boot: keel in its supervisor leaf once the first container started" \
    'facts: pid1 cgroup 0::/(keel|\.\./\.\.)/supervisor[[:space:]]*$'
vm_assert_each "boot: modules loaded" 'facts: modules (.* )?{} ' overlay veth bridge stp llc e1000 button evdev nft_nat \
    nf_conntrack_netlink
vm_assert "boot: sysctl applied" 'facts: swappiness 13'
vm_assert "boot: uplink has its address" 'facts: eth0 10\.0\.2\.15/24'
vm_assert "boot: default route via the gateway" 'facts: default route 10\.0\.2\.2'
vm_assert "boot: container has an overlay root" 'facts: root fs overlay'
vm_assert "boot: keel's binary is a read-only bind despite KEEL_BOOT_MOVED=1" 'facts: keel binary mount ro'
vm_refute "boot: release build ignores the test hooks" 'test hook'
vm_assert "boot: the i386 door is filtered (socketcall, vsock, persona refused)" \
    'facts: i386: getpid=ok keyctl=EPERM unshare=EPERM socketcall=ENOSYS vsock=EPERM persona=EPERM unix=ok'

vm_assert "boot: container output reaches the console" 'db \| db-up'
vm_assert "boot: orphans reaped (no zombie in the machine)" 'facts: zombies 0'
# button and evdev came after the first start: the watcher opens the device
# when their loader is reaped; the power-down below shows it watching.
vm_wait_ok "boot: modules_split: the power button is watched once its modules are in" \
    'keel: power button: /dev/input/event' 60
vm_mon system_powerdown
vm_wait_end 60
l_facts=$(vm_line 'facts: stopped|facts: killed by signal|facts: exited')
l_db=$(vm_line 'db: stopping')
if [ "$l_facts" -gt 0 ] && [ "$l_db" -gt "$l_facts" ]; then
    vm_ok "boot: system_powerdown stops containers in reverse dependency order"
else
    vm_not_ok "boot: system_powerdown stops containers in reverse dependency order" "facts stopped at line $l_facts, db stopping at line $l_db"
fi
vm_assert "boot: filesystems unmounted at shutdown" 'keel: filesystems unmounted: [0-9]+, detached busy: [0-9]+, failed: 0'
vm_end_is "boot: system_powerdown powers off cleanly" poweroff
# nf_conntrack_netlink came after the first start: nothing before it needs it
# (a boot has no earlier keel's connections to forget), late's release does.
vm_refute "boot: modules_split: no connection left unforgotten" 'cannot forget the connections'
vm_refute "boot: no kernel panic" 'Kernel panic|Attempted to kill init'

# --- boot 2: the uplink by DHCP; Ctrl-Alt-Del reboots, containers stopped first ------------
# QEMU's user-mode network leases 10.0.2.15 with router 10.0.2.2 and DNS 10.0.2.3.
vm_start keel-cad "$img" "keel.manifest=/etc/keel/dhcp.ini" -- "${NIC[@]}"
if vm_wait 'online: nameserver' 90; then
    vm_assert "dhcp: the lease's address on eth0 before network-online" 'online: eth0 10\.0\.2\.15/24'
    vm_assert "dhcp: the lease's default route" 'online: default route 10\.0\.2\.2'
    vm_assert "dhcp: the lease's DNS in the container's resolv.conf" 'online: nameserver 10\.0\.2\.3'
    vm_assert "dhcp: the lease's DNS in the machine's /etc/resolv.conf" 'online: machine nameserver 10\.0\.2\.3'
else
    vm_not_ok "dhcp: a container waiting for network-online started after the lease" "online never reported"
fi
if vm_wait 'db: started|db \| db-up' 90; then
    vm_mon "sendkey ctrl-alt-delete"
    vm_wait_end 60
    vm_assert "boot: ctrl-alt-delete stops the containers" 'db: stopped|db: killed by signal'
    vm_assert "boot: ctrl-alt-delete unmounts filesystems" 'keel: filesystems unmounted: [0-9]+, detached busy: [0-9]+, failed: 0'
    vm_end_is "boot: ctrl-alt-delete reboots cleanly" reboot
else
    vm_not_ok "boot: ctrl-alt-delete reboots cleanly" "keel did not start db"
    vm_stop
fi

# --- boots 3-6: on_exit policies --------------------------------------------------------
for policy in poweroff reboot halt; do
    vm_start "keel-exit-$policy" "$img" "keel.manifest=/etc/keel/exit-$policy.ini"
    vm_wait_end 60
    vm_assert "on_exit=$policy: main container's exit status on the console" 'app: exited with status 3'
    vm_assert "on_exit=$policy: other containers stopped" 'side: stopped|side: killed by signal'
    vm_end_is "on_exit=$policy: the machine does it" "$policy"
done
vm_start keel-exit-stay "$img" "keel.manifest=/etc/keel/exit-stay.ini" -- "${NIC[@]}"
if vm_wait 'app: exited with status 3' 60; then
    sleep 3
    if vm_running && [ -z "$(vm_end_reason)" ]; then vm_ok "on_exit=stay: keeps running"
    else vm_not_ok "on_exit=stay: keeps running" "ended: $(vm_end_reason)"; fi
    vm_mon "sendkey ctrl-alt-delete"
    vm_wait_end 60
    vm_end_is "on_exit=stay: still answers ctrl-alt-delete" reboot
else
    vm_not_ok "on_exit=stay: keeps running" "app never exited"
    vm_stop
fi

# --- boot 7: an invalid manifest ------------------------------------------------------------
vm_start keel-bad "$img" "keel.manifest=/etc/keel/bad.ini"
vm_wait_end 60
vm_assert "bad manifest: FILE:LINE error on the console" '/etc/keel/bad.ini:5: .*no_such_key'
# Nothing of it applied: no process is left to read the hostname (keel
# powers off), so this looks for keel's hostname line, whose meaning the
# rescue boot establishes (there the same line comes with the effect, read
# by the rescue shell); the error line above shows keel did run.
vm_refute "bad manifest: nothing of it applied (no hostname set)" 'keel: hostname bad'
vm_refute "bad manifest: no kernel panic" 'Kernel panic|Attempted to kill init'
vm_end_is "bad manifest: powers off" poweroff

# --- boot 8: a module that is not there ---------------------------------------------------------
vm_start keel-nomod "$img" "keel.manifest=/etc/keel/nomod.ini"
vm_wait_end 60
vm_assert "missing module: clear error" 'keel: error: .*cannot load module nosuchmodule'
vm_refute "missing module: no kernel panic" 'Kernel panic|Attempted to kill init'
vm_end_is "missing module: powers off" poweroff

# --- boot 8b: a module after the first start that is not there ------------------------------
vm_start keel-latemod "$img" "keel.manifest=/etc/keel/latemod.ini"
vm_wait_end 60
l_x=$(vm_line 'keel: x: started')
l_err=$(vm_line 'keel: error: .*cannot load module gpio_keys')
if [ "$l_x" -gt 0 ] && [ "$l_err" -gt "$l_x" ]; then
    vm_ok "late missing module: the first container ran, then a clear error"
else
    vm_not_ok "late missing module: the first container ran, then a clear error" "x started at line $l_x, error at $l_err"
fi
vm_assert "late missing module: on_error stops the containers" 'x: stopped|x: killed by signal'
vm_end_is "late missing module: powers off (on_error)" poweroff

# count_lines REGEX: how many console lines match.
count_lines() { grep -acE -- "$1" "$VM_CONSOLE"; }
# wait_second_boot SECONDS: waits until keel started a second time (after a
# reboot), then stops QEMU.
wait_second_boot() {
    local deadline=$((SECONDS + $1))
    while [ $SECONDS -lt $deadline ] && vm_running; do
        [ "$(count_lines 'keel: stage: keel .*starting as PID 1')" -ge 2 ] && break
        sleep 0.2
    done
    vm_stop
    [ "$(count_lines 'keel: stage: keel .*starting as PID 1')" -ge 2 ]
}

# --- boot 9: on_error = reboot really reboots -------------------------------------------
VM_REBOOT=yes vm_start keel-error-reboot "$img" "keel.manifest=/etc/keel/error-reboot.ini"
if wait_second_boot 180; then
    l_fail=$(vm_line 'keel: error: boot failed; rebooting in 5 s')
    l_restart=$(vm_line 'reboot: Restarting system')
    if [ "$l_fail" -gt 0 ] && [ "$l_restart" -gt "$l_fail" ]; then
        vm_ok "on_error=reboot: a failed boot reboots the machine (second boot seen)"
    else
        vm_not_ok "on_error=reboot: a failed boot reboots the machine (second boot seen)" \
            "boot failed at line $l_fail, kernel restart at line $l_restart"
    fi
else
    vm_not_ok "on_error=reboot: a failed boot reboots the machine (second boot seen)" "no second boot"
fi
vm_refute "on_error=reboot: no kernel panic" 'Kernel panic|Attempted to kill init'

# --- boot 10: on_error = shell runs rescue_shell, then powers off --------------------------
vm_start keel-error-shell "$img" "keel.manifest=/etc/keel/error-shell.ini"
vm_wait_end 120
vm_assert "on_error=shell: the boot failed on the missing interface" 'keel: error: .*nosuch0'
vm_wait_ok "on_error=shell: rescue_shell ran on the console" 'rescue: done' 1 "no 'rescue: done'"
rline=$(grep -aoE 'rescue: pid [0-9]+ session [0-9]+ tty_nr [0-9]+' "$VM_CONSOLE" | head -n 1)
rpid=$(awk '{ print $3 }' <<< "$rline"); rsid=$(awk '{ print $5 }' <<< "$rline"); rtty=$(awk '{ print $7 }' <<< "$rline")
if [ -n "$rpid" ] && [ "$rpid" = "$rsid" ] && [ "${rtty:-0}" != 0 ]; then
    vm_ok "on_error=shell: the rescue shell leads a new session with a controlling terminal"
else
    vm_not_ok "on_error=shell: the rescue shell leads a new session with a controlling terminal" "${rline:-no line}"
fi
vm_assert "boot: hostname applied (read by the rescue shell)" 'rescue: hostname rescued'
vm_assert "boot: keel's hostname line comes with the effect" 'keel: hostname rescued'
vm_assert "boot: sysctl applied (read by the rescue shell)" 'rescue: swappiness 17'
vm_assert "boot: dns written to /etc/resolv.conf (read by the rescue shell)" 'rescue: nameserver 10\.0\.2\.3'
l_done=$(vm_line 'rescue: done'); l_down=$(vm_line 'reboot: Power down')
if [ "$VM_END" = poweroff ] && [ "$l_done" -gt 0 ] && [ "$l_down" -gt "$l_done" ]; then
    vm_ok "on_error=shell: powers off once the rescue shell exits"
else
    vm_not_ok "on_error=shell: powers off once the rescue shell exits" "ended: $VM_END; rescue done at line $l_done, power down at line $l_down"
fi

# --- boot 11: on_unhealthy = poweroff ----------------------------------------------------------
vm_start keel-unhealthy-poweroff "$img" "keel.manifest=/etc/keel/unhealthy-poweroff.ini"
vm_wait_end 120
l_sick=$(vm_line 'keel: sick: unhealthy')
l_side=$(vm_line 'keel: side: (stopped|killed by signal)')
l_umount=$(vm_line 'keel: filesystems unmounted: [0-9]+, detached busy: [0-9]+, failed: 0')
l_down=$(vm_line 'reboot: Power down')
if [ "$VM_END" = poweroff ] && [ "$l_sick" -gt 0 ] && [ "$l_side" -gt "$l_sick" ] && [ "$l_umount" -gt "$l_side" ] &&
    [ "$l_down" -gt "$l_umount" ]; then
    vm_ok "on_unhealthy=poweroff: an unhealthy container powers the machine off through the shutdown sequence"
else
    vm_not_ok "on_unhealthy=poweroff: an unhealthy container powers the machine off through the shutdown sequence" \
        "ended: $VM_END; lines: unhealthy $l_sick, side stopped $l_side, unmounted $l_umount, power down $l_down"
fi

# --- boot 12: on_unhealthy = reboot ------------------------------------------------------------
VM_REBOOT=yes vm_start keel-unhealthy-reboot "$img" "keel.manifest=/etc/keel/unhealthy-reboot.ini"
if wait_second_boot 180; then
    l_sick=$(vm_line 'keel: sick: unhealthy')
    l_side=$(vm_line 'keel: side: (stopped|killed by signal)')
    l_restart=$(vm_line 'reboot: Restarting system')
    if [ "$l_sick" -gt 0 ] && [ "$l_side" -gt "$l_sick" ] && [ "$l_restart" -gt "$l_side" ]; then
        vm_ok "on_unhealthy=reboot: an unhealthy container reboots the machine (second boot seen)"
    else
        vm_not_ok "on_unhealthy=reboot: an unhealthy container reboots the machine (second boot seen)" \
            "lines: unhealthy $l_sick, side stopped $l_side, kernel restart $l_restart"
    fi
else
    vm_not_ok "on_unhealthy=reboot: an unhealthy container reboots the machine (second boot seen)" "no second boot"
fi

# --- boot 13: PID 1 with 10 idle containers stays under 1.5 MiB (issue 17) ------------
# Positive control: the line names PID 1 (keel, the image's /init) and the
# nine sleeping, so the figure is keel's own with all ten up.  Linked in the
# default order the release keel peaked at 1956 kB here; with the list of
# `keel run`'s code alone at 1788 kB.
vm_start keel-idle10 "$img" "keel.manifest=/etc/keel/idle10.ini"
if vm_wait 'rss: sleeping [0-9]+ pid1 ' 180; then
    line=$(grep -a -m1 -oE 'rss: sleeping [0-9]+ pid1 .*' "$VM_CONSOLE" | tr -d '\r')
    echo "# $line"
    n=$(sed -nE 's/^rss: sleeping ([0-9]+) .*/\1/p' <<< "$line")
    comm=$(sed -nE 's/^rss: sleeping [0-9]+ pid1 ([^ ]+) .*/\1/p' <<< "$line")
    hwm=$(sed -nE 's/.*VmHWM: ([0-9]+) kB.*/\1/p' <<< "$line")
    # keel is the image's /init: PID 1's name is init.
    if [ "${n:-0}" -ge 9 ] && [ "$comm" = init ] && [ -n "$hwm" ]; then
        vm_ok "idle10: the figure is PID 1 keel's, with the ten containers up"
        if [ "$hwm" -le 1536 ]; then vm_ok "idle10: PID 1's VmHWM with 10 idle containers is at most 1536 kB ($hwm)"
        else vm_not_ok "idle10: PID 1's VmHWM with 10 idle containers is at most 1536 kB" "$line"; fi
    else
        vm_not_ok "idle10: the figure is PID 1 keel's, with the ten containers up" "$line"
        vm_not_ok "idle10: PID 1's VmHWM with 10 idle containers is at most 1536 kB" "no figure"
    fi
    # (No power button here: the manifest loads overlay alone.)
    vm_stop
else
    vm_not_ok "idle10: the figure is PID 1 keel's, with the ten containers up" "no rss line"
    vm_not_ok "idle10: PID 1's VmHWM with 10 idle containers is at most 1536 kB" "no rss line"
    vm_stop
fi
