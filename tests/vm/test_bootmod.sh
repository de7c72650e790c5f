#!/bin/bash
# test_bootmod.sh — keel's boot module (src/boot.c, src/kmod.c) in the VM,
# driven by tests/vm/boot-harness.c, a minimal PID 1 without the main loop:
# the move off rootfs, mounts, module loading, hostname/sysctl/dns, the uplink
# (each read back by the harness: /proc/sys, /etc/resolv.conf, getifaddrs),
# pivot_root possible, orphan reaping, power button -> poweroff, Ctrl-Alt-Del ->
# reboot, unmount at shutdown, a missing module -> clear error and poweroff.
set -u
. "$(dirname "$0")/lib.sh"
cd "$VM_REPO"

vm_harness bootmod tests/vm/boot-harness.c "$VM_OUT/boot-harness"
cat > "$VM_OUT/bootmod.ini" <<'INI'
[system]
modules = overlay e1000 button evdev veth bridge
[container x]
layers = /layers/base
INI
vm_image "bootmod: image" "$VM_OUT/bootmod.ini" "" "$VM_OUT/bootmod.cpio" "$VM_OUT/boot-harness"

# --- boot 1: everything up (KEEL_BOOT_MOVED=1, a hostile word, on the command line), then QEMU's system_powerdown --------------------------
vm_start bootmod-power "$VM_OUT/bootmod.cpio" \
    "harness.modules=overlay,e1000,button,evdev,veth,bridge harness.sysctl=kernel.domainname=keeltest keel.manifest=/etc/x.ini KEEL_BOOT_MOVED=1"
if ! vm_wait 'harness: ready' 60; then
    vm_not_ok "bootmod: boots to ready"
    vm_stop
else
    vm_ok "bootmod: boots to ready"
    vm_assert "bootmod: stage lines" 'keel: stage: keel .* starting as PID 1.*keel: stage: root moved|keel: stage: root moved'
    vm_assert "bootmod: stage mounts done" 'keel: stage: mounts done \(\+[0-9.]+ ms\)'
    vm_assert "bootmod: stage modules loaded" 'keel: stage: modules loaded: overlay e1000 button evdev veth bridge \(8 new\)'
    vm_assert "bootmod: stage network up" 'keel: stage: network up'
    vm_assert "bootmod: root moved off rootfs" "harness: root fstype rootfs parentless no"
    vm_assert "bootmod: runs from /init" 'harness: exe /init'
    # KEEL_BOOT_MOVED=1 on the command line reaches init's environment (it
    # once made keel skip the move): the exe's mount is read-only regardless.
    vm_assert "bootmod: keel's exe is on a read-only mount despite KEEL_BOOT_MOVED=1" 'harness: exe mount ro'
    # The attack's own open (CVE-2019-5736 class), by PID 1 and by a child it
    # forked: refused by the read-only mount (EROFS), not only by the ETXTBSY
    # that lasts as long as some process runs the binary.  Control: the new
    # root, a bind of the same rootfs, is writable.
    vm_assert "bootmod: /proc/self/exe of PID 1 cannot be opened for writing (EROFS)" \
        'harness: pid1 exe open for writing: EROFS'
    vm_assert "bootmod: nor that of a child PID 1 forked (EROFS)" 'harness: child exe open for writing: EROFS'
    vm_assert "bootmod: control: the root (a bind of the same rootfs) is writable" 'harness: root writable: yes'
    # The other names of the same inode: its text mapping's map_files entry
    # (the exe's mount, read-only), and the binary seen through a bind of
    # the root without the read-only bind on it (only ETXTBSY there).
    vm_assert "bootmod: /proc/self/map_files of keel's text cannot be opened for writing (EROFS)" \
        'harness: map_files exe open for writing: EROFS'
    vm_assert "bootmod: the binary through a plain bind of the root: refused while it runs (ETXTBSY)" \
        'harness: exe through a bind of the root open for writing: ETXTBSY'

    vm_assert "bootmod: pivot_root works after the move" 'harness: pivot_root ok'
    vm_assert_each "bootmod: pseudo-filesystems mounted" 'harness: mounts( [^ ]+)* {}( |$|[[:cntrl:]])' \
        / /init /proc /sys /dev /dev/pts /dev/shm /run /tmp /sys/fs/cgroup
    vm_assert "bootmod: modules loaded with dependencies" 'harness: modules .*bridge.*stp.*llc'
    vm_assert "bootmod: hostname" 'harness: hostname harness-host'
    # Effects read back by the harness from the kernel and the file system,
    # not keel's own "sysctl ..." / "interface ..." / "dns: ..." messages.
    vm_assert "bootmod: sysctl applied (/proc/sys/kernel/domainname)" 'harness: kernel.domainname keeltest'
    vm_assert "bootmod: keel.manifest= read" 'harness: manifest path /etc/x.ini'
    vm_assert "bootmod: uplink configured (eth0 has its address and is up)" 'harness: eth0 inet 10\.0\.2\.15,up'
    vm_assert "bootmod: dns written to /etc/resolv.conf" 'harness: resolv.conf 10\.0\.2\.3[[:cntrl:]]*$'
    vm_assert "bootmod: stdio on /dev/console" 'harness: fds 0 1 2 -> /dev/console /dev/console /dev/console'
    vm_assert "bootmod: power button found" 'keel: power button: /dev/input/event'
    vm_wait_ok "bootmod: orphan reaped" 'harness: reaped the orphan' 20
    vm_mon system_powerdown
    vm_wait_end 60
    vm_assert "bootmod: power button press seen" 'harness: power button pressed'
    vm_assert "bootmod: filesystems unmounted" 'keel: filesystems unmounted: [1-9][0-9]*, detached busy: [0-9]+, failed: 0'
    vm_end_is "bootmod: system_powerdown powers off" poweroff
fi

# --- boot 2: Ctrl-Alt-Del arrives as SIGINT and reboots ------------------------------
vm_start bootmod-cad "$VM_OUT/bootmod.cpio" "harness.modules=overlay,e1000"
if vm_wait 'harness: ready' 60; then
    vm_mon "sendkey ctrl-alt-delete"
    vm_wait_end 60
    vm_assert "bootmod: ctrl-alt-delete arrives as SIGINT" 'harness: signal 2 -> reboot'
    # The control of the sysctl check: without harness.sysctl the domain
    # name is the kernel's default, so boot 1's value came from the sysctl.
    vm_assert "bootmod: the domainname is read without the sysctl too" 'harness: kernel.domainname [^k]'
    vm_refute "bootmod: no sysctl, no domainname" 'harness: kernel.domainname keeltest'
    vm_end_is "bootmod: ctrl-alt-delete reboots" reboot
else
    vm_not_ok "bootmod: ctrl-alt-delete reboots" "guest did not come up"
    vm_stop
fi

# --- boot 3: a missing module is a clear error, then poweroff ---------------------------
vm_start bootmod-nomod "$VM_OUT/bootmod.cpio" "harness.modules=overlay,nosuchmod"
vm_wait_end 60
vm_assert "bootmod: missing module is a clear error" 'keel: error: cannot load module nosuchmod: not in modules.dep nor built in'
vm_refute "bootmod: missing module does not panic" 'Kernel panic'
vm_end_is "bootmod: missing module powers off" poweroff
