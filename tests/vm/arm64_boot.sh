#!/bin/bash
# arm64_boot.sh — keel on arm64 (issue 19), end to end in one boot: the
# cross-built static keel (build/arm64/keel) as PID 1 of Debian's arm64 kernel
# (build/arm64/sysroot, unpacked by tests/tools/arm64-sysroot) on
# qemu-system-aarch64 -M virt -cpu max under TCG; layers from
# busybox-static:arm64.  Checked, each as an effect seen from inside the guest
# or from the host:
#   - a container on an overlay root over two layers (the upper one wins);
#   - bridge networking with a published port: the host's curl reaches the
#     container's httpd through QEMU's forward and keel's DNAT;
#   - a cgroup limit: memory = 48M holds (memory.max, and 160 MiB cannot be
#     touched: the kernel's OOM killer ends the container; 16 MiB can, the
#     control);
#   - the default seccomp filter refuses on aarch64 what it refuses on x86
#     (tests/vm/a64-door.c), and closes the arm32 compat door (a 32-bit ARM
#     program is killed at its first call) that an unconfined container
#     shows open (the kernel has CONFIG_COMPAT, the CPU AArch32 at EL0);
#   - the watchdog (QEMU's PCI i6300ESB) is armed, and never fires;
#   - the power button (gpio-keys on virt) makes keel power the machine off.
# make vm-arm64 runs it (VM_ARCH=arm64, KEEL=build/arm64/keel).
set -u
VM_ARCH=arm64
. "$(dirname "$0")/lib.sh"
cd "$VM_REPO"

KEEL=${KEEL:-$VM_REPO/build/arm64/keel}
vm_require_keel "arm64: image"
file -L "$KEEL" | grep -q 'ARM aarch64' || vm_fail "arm64: image" "$KEEL is not an aarch64 binary (make ARCH=arm64)"
vm_require_tools "arm64: image" qemu-system-aarch64 aarch64-linux-gnu-gcc python3 curl
[ -x build/arm64/layers/base/bin/probe ] || vm_fail "arm64: image" "no build/arm64/layers (make vm-arm64)"

extra=$VM_OUT/arm64-extra
mkdir -p "$extra/etc/keel" "$extra/layers/a64"
vm_payload "arm64: image" tests/vm/a64-door.c "$extra/layers/a64/a64-door"
python3 tests/vm/arm32-hello.py "$extra/layers/a64/arm32-hello" || vm_fail "arm64: image" "cannot write the arm32 program"
chmod 0755 "$extra/layers/a64/arm32-hello"
cat > "$extra/layers/a64/facts.sh" <<'SH'
#!/bin/sh
echo "facts: root $(awk '$2 == "/" { print $3 }' /proc/mounts | tail -n 1) layer $(cat /etc/layer) over-only $(cat /etc/over-only)"
echo "facts: machine $(uname -m)"
echo "facts: $(/a64-door)"
/arm32-hello
echo "facts: arm32 status $?"
echo "facts: watchdog $(cat /sys/class/watchdog/watchdog0/identity 2>&1) $(cat /sys/class/watchdog/watchdog0/state 2>&1)"
echo "facts: done"
SH
chmod 0755 "$extra/layers/a64/facts.sh"

cat > "$extra/etc/keel/keel.ini" <<'INI'
[system]
hostname = a64test
modules = overlay virtio_pci virtio_net gpio_keys evdev i6300esb
watchdog = /dev/watchdog
watchdog_timeout = 10s
modules = veth bridge nf_tables nft_chain_nat nft_nat nft_masq nft_ct nft_fib_inet nf_conntrack_netlink
dns = 10.0.2.3
stop_timeout = 3

[interface eth0]
address = 10.0.2.15/24
gateway = 10.0.2.2

[container web]
layers = /layers/base
upper = tmpfs
command = /bin/httpd -f -p 80 -h /www
network = bridge
ports = 80:80/tcp
restart = always
stop_signal = SIGKILL

[container facts]
layers = /layers/a64:/layers/over:/layers/base
upper = tmpfs
command = /bin/sh /facts.sh
restart = no

; memory.oom.group: the OOM killer ends the whole container, shell included.
[container hog]
layers = /layers/base
command = /bin/sh -c "echo memory.max $(cat /sys/fs/cgroup/memory.max); probe alloc 16; probe alloc 160; echo survived"
memory = 48M
restart = no

[container compat]
layers = /layers/a64:/layers/base
seccomp = unconfined
command = /bin/sh -c "/arm32-hello; echo compat: unconfined status $?"
restart = no
INI
img=$VM_OUT/arm64.cpio
vm_image "arm64: image" "$extra/etc/keel/keel.ini" "$extra" "$img"
vm_ok "arm64: image (keel, layers, probes and Debian's arm64 modules)"

# A host port of this run's own (127.0.0.1 only), free before the boot.
port=
for p in $(seq $((20000 + $$ % 20000)) $((20000 + $$ % 20000 + 50))); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || vm_fail "arm64: boot" "no free local port"

# The i6300ESB is a PCI device: it works on virt as on pc.  A watchdog that
# fires ends QEMU at once (-action watchdog=poweroff), without the kernel's
# "reboot: Power down": the poweroff check below would see "gone".
VM_MEM=512 vm_start arm64 "$img" "" -- -nic "user,model=$(vm_nic_model),hostfwd=tcp:127.0.0.1:$port-:80" \
    -device i6300esb -action watchdog=poweroff
vm_wait_ok "arm64: boot: keel runs the containers" 'facts: done' 240 "no facts from the container" || exit 1

vm_assert "arm64: the guest is aarch64" 'facts: machine aarch64'
vm_assert "arm64: watchdog: the i6300ESB on virt is armed (active)" 'facts: watchdog i6300ESB timer active'
vm_assert "arm64: overlay root, upper layer first" 'facts: root overlay layer over over-only over'
vm_wait 'Memory cgroup out of memory: Killed process [0-9]+ \(probe\)' 60
vm_assert "arm64: cgroup limit: memory.max is 48M" 'hog \| memory.max 50331648'
vm_assert "arm64: cgroup limit: 16 MiB can be touched (control)" 'hog \| alloc=16'
vm_assert "arm64: cgroup limit: 160 MiB cannot: the kernel's OOM killer ends it" \
    'Memory cgroup out of memory: Killed process [0-9]+ \(probe\)'
vm_refute "arm64: cgroup limit: nothing ran after the 160 MiB" 'hog \| survived'
vm_assert "arm64: seccomp: the default filter refuses what it refuses on x86" \
    'facts: a64: getpid=ok keyctl=EPERM unshare=EPERM clone_newuts=EPERM clone3=ENOSYS vsock=EPERM persona=EPERM mseal=ENOSYS bpf=EPERM unix=ok fork=ok'
vm_assert "arm64: seccomp: an unconfined container runs arm32 code (the compat door exists)" 'compat: unconfined status 0'
vm_assert "arm64: seccomp: arm32 code under the default filter is killed (SIGSYS)" 'facts: arm32 status 159'
vm_refute "arm64: seccomp: the arm32 program said nothing under the filter" 'facts \| arm32: hello'

page=
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ] && vm_running; do
    page=$(curl -fsS --max-time 3 "http://127.0.0.1:$port/" 2>/dev/null) && break
    page=
    sleep 0.5
done
if echo "$page" | grep -q 'keel test page'; then
    vm_ok "arm64: bridge network: the published port answers from the host"
else
    vm_not_ok "arm64: bridge network: the published port answers from the host" "no page on 127.0.0.1:$port"
fi

vm_mon system_powerdown
vm_wait_end 120
vm_end_is "arm64: power button: keel powers the machine off" poweroff
vm_assert "arm64: shutdown was clean" 'keel: filesystems unmounted: [0-9]+, detached busy: [0-9]+, failed: 0'
