#!/bin/bash
# test_boot.sh — keel as PID 1 (issue 3), end to end: the static keel from
# $KEEL in an image built by initramfs/mkinitramfs, booted under QEMU TCG, its
# serial console read.  One image holds several manifests; keel.manifest= on
# the kernel command line picks one per boot.  Checks are grouped per boot to
# keep the suite short (a boot costs 3-6 s of TCG time).
#
# What keel prints is the project's convention (docs, helper brief):
#   "[ t ] keel: stage: ..."  boot stages; "NAME | line" container output;
#   "NAME: started, pid P" / "exited with status N" / "stopping" / "stopped".
set -u
. "$(dirname "$0")/lib.sh"
cd "$VM_REPO"

KEEL=${KEEL:-$VM_REPO/build/keel}
if [ ! -x "$KEEL" ]; then
    vm_not_ok "keel: image" "no keel binary at $KEEL (make vm sets KEEL)"
    exit 0
fi

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
echo "facts: keel binary mount $(awk '$2 == "/init" { split($4, o, ","); print o[1] }' /hostproc/1/mounts)"
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
if ! gcc -O2 -static -o "$extra/layers/probe/i386-door" tests/vm/i386-door.c 2>"$VM_OUT/i386-door.log"; then
    vm_not_ok "keel: image" "cannot build tests/vm/i386-door.c: $(head -n 3 "$VM_OUT/i386-door.log")"
    exit 0
fi

# main.ini: the full system; facts depends on db (stop order: facts, then db).
cat > "$extra/etc/keel/main.ini" <<'INI'
[system]
hostname = vmtest
modules = overlay veth bridge e1000 button evdev
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
INI

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

img=$VM_OUT/boot.cpio
if ! initramfs/mkinitramfs --keel "$KEEL" --manifest "$extra/etc/keel/main.ini" --extra "$extra" \
        --out "$img" 2>"$VM_OUT/boot.mk.log"; then
    vm_not_ok "keel: image" "$(cat "$VM_OUT/boot.mk.log")"
    exit 0
fi

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
if vm_wait 'facts: done' 90; then
    vm_ok "boot: keel boots and runs its containers"
else
    vm_not_ok "boot: keel boots and runs its containers"
fi
vm_assert "boot: keel is PID 1" 'facts \| facts: pid1 init'
vm_assert "boot: stage keel start" 'keel: stage: keel .*starting as PID 1'
vm_assert "boot: stage mounts done" 'keel: stage: mounts done'
vm_assert "boot: stage modules loaded" 'keel: stage: modules loaded'
vm_assert "boot: stage network up" 'keel: stage: network up'
vm_assert "boot: stage container exec" 'keel: stage: .*(db|facts)'
missing=
for m in /proc:proc /sys:sysfs /dev:devtmpfs /dev/pts:devpts /dev/shm:tmpfs /run:tmpfs /tmp:tmpfs /sys/fs/cgroup:cgroup2; do
    grep -aqE "facts: host mounts (.* )?$m " "$VM_CONSOLE" || missing="$missing $m"
done
[ -z "$missing" ] && vm_ok "boot: pseudo-filesystems mounted" || vm_not_ok "boot: pseudo-filesystems mounted" "missing:$missing"
missing=
for mod in overlay veth bridge stp llc e1000 button evdev; do
    grep -aqE "facts: modules (.* )?$mod " "$VM_CONSOLE" || missing="$missing $mod"
done
[ -z "$missing" ] && vm_ok "boot: modules loaded" || vm_not_ok "boot: modules loaded" "missing:$missing"
vm_assert "boot: hostname applied" 'keel: hostname vmtest'
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
[ "$VM_END" = poweroff ] && vm_ok "boot: system_powerdown powers off cleanly" ||
    vm_not_ok "boot: system_powerdown powers off cleanly" "ended: $VM_END"
vm_refute "boot: no kernel panic" 'Kernel panic|Attempted to kill init'

# --- boot 2: Ctrl-Alt-Del reboots, containers stopped first -------------------------------
vm_start keel-cad "$img" "keel.manifest=/etc/keel/main.ini" -- "${NIC[@]}"
if vm_wait 'db: started|db \| db-up' 90; then
    vm_mon "sendkey ctrl-alt-delete"
    vm_wait_end 60
    vm_assert "boot: ctrl-alt-delete stops the containers" 'db: stopped|db: killed by signal'
    vm_assert "boot: ctrl-alt-delete unmounts filesystems" 'keel: filesystems unmounted: [0-9]+, detached busy: [0-9]+, failed: 0'
    [ "$VM_END" = reboot ] && vm_ok "boot: ctrl-alt-delete reboots cleanly" ||
        vm_not_ok "boot: ctrl-alt-delete reboots cleanly" "ended: $VM_END"
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
    [ "$VM_END" = "$policy" ] && vm_ok "on_exit=$policy: the machine does it" ||
        vm_not_ok "on_exit=$policy: the machine does it" "ended: $VM_END"
done
vm_start keel-exit-stay "$img" "keel.manifest=/etc/keel/exit-stay.ini" -- "${NIC[@]}"
if vm_wait 'app: exited with status 3' 60; then
    sleep 3
    if vm_running && [ -z "$(vm_end_reason)" ]; then vm_ok "on_exit=stay: keeps running"
    else vm_not_ok "on_exit=stay: keeps running" "ended: $(vm_end_reason)"; fi
    vm_mon "sendkey ctrl-alt-delete"
    vm_wait_end 60
    [ "$VM_END" = reboot ] && vm_ok "on_exit=stay: still answers ctrl-alt-delete" ||
        vm_not_ok "on_exit=stay: still answers ctrl-alt-delete" "ended: $VM_END"
else
    vm_not_ok "on_exit=stay: keeps running" "app never exited"
    vm_stop
fi

# --- boot 7: an invalid manifest ------------------------------------------------------------
vm_start keel-bad "$img" "keel.manifest=/etc/keel/bad.ini"
vm_wait_end 60
vm_assert "bad manifest: FILE:LINE error on the console" '/etc/keel/bad.ini:5: .*no_such_key'
vm_refute "bad manifest: nothing of it applied" 'keel: hostname bad'
vm_refute "bad manifest: no kernel panic" 'Kernel panic|Attempted to kill init'
[ "$VM_END" = poweroff ] && vm_ok "bad manifest: powers off" || vm_not_ok "bad manifest: powers off" "ended: $VM_END"

# --- boot 8: a module that is not there ---------------------------------------------------------
vm_start keel-nomod "$img" "keel.manifest=/etc/keel/nomod.ini"
vm_wait_end 60
vm_assert "missing module: clear error" 'keel: error: .*cannot load module nosuchmodule'
vm_refute "missing module: no kernel panic" 'Kernel panic|Attempted to kill init'
[ "$VM_END" = poweroff ] && vm_ok "missing module: powers off" || vm_not_ok "missing module: powers off" "ended: $VM_END"
