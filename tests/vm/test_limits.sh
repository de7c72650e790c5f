#!/bin/bash
# test_limits.sh — what only a machine keel boots can show, read back from
# inside the guest (one boot):
#   cgroup   memory_high -> memory.high, io_read_bps / io_write_bps /
#            io_read_iops / io_write_iops on a virtio disk -> one io.max line
#            for its MAJ:MIN; a container without limits beside it shows the
#            kernel's defaults (max, an empty io.max): the positive control
#            that the files were read
#   oom      oom_score_adj = 500 in the container's /proc/self/oom_score_adj;
#            0 in one without the key, while keel itself is at -1000 (so the
#            0 is keel's doing, not inheritance)
#   dns      [system] dns in the machine's /etc/resolv.conf and in a
#            container's
#   mtu      [interface eth0] mtu = 1400 on the e1000 uplink (1500 by default)
# The observer container reads keel's cgroup tree through a read-only bind
# of /sys/fs/cgroup, the machine's /etc and /proc the same way, prints
# "LIMITS key=value" lines and exits: it is main, so the machine powers off.
# The disk is mounted by [system] fstab, which waits for /dev/vda: the io
# keys resolve the device when their container starts, after that.
set -u
. "$(dirname "$0")/lib.sh"
cd "$VM_REPO"

vm_require_keel "limits: image"
vm_require_tools "limits: image" mke2fs
vm_require_layers "limits: image"

# --- the image --------------------------------------------------------------------------
extra=$VM_OUT/limits-extra
rm -rf "$extra"
mkdir -p "$extra/layers/obs"
cat > "$extra/layers/obs/obs.sh" <<'SH'
#!/bin/sh
say() { echo "LIMITS $1=$2"; }
say vda "$(cat /sys/block/vda/dev 2>&1)"
for c in lim plain; do
    say "$c.memory.high" "$(cat /cg/keel/containers/$c/memory.high 2>&1)"
    say "$c.io.max" "$(cat /cg/keel/containers/$c/io.max 2>&1 | tr '\n' ';')"
done
say keel.oom_score_adj "$(cat /hostproc/1/oom_score_adj 2>&1)"
say eth0.mtu "$(cat /sys/class/net/eth0/mtu 2>&1)"
say system.resolv "$(grep '^nameserver' /hostetc/resolv.conf 2>&1 | tr '\n' ';')"
say container.resolv "$(grep '^nameserver' /etc/resolv.conf 2>&1 | tr '\n' ';')"
echo "LIMITS done"
SH
chmod +x "$extra/layers/obs/obs.sh"

manifest=$VM_OUT/limits.ini
cat > "$manifest" <<'INI'
[system]
modules = overlay virtio_pci virtio_blk ext4 e1000
fstab = /dev/vda /data ext4
dns = 10.0.2.3
dns = 192.0.2.53
stop_timeout = 2
on_exit = poweroff

[interface eth0]
mtu = 1400

[container lim]
layers = /layers/base
command = /bin/probe trap TERM read /proc/self/oom_score_adj print up sleep inf
memory_high = 48M
io_read_bps = /dev/vda 2M
io_write_bps = /dev/vda 1M
io_read_iops = /dev/vda 300
io_write_iops = /dev/vda 200
oom_score_adj = 500

[container plain]
layers = /layers/base
command = /bin/probe trap TERM read /proc/self/oom_score_adj print up sleep inf

[container obs]
layers = /layers/obs:/layers/base
upper = tmpfs
command = /bin/sh /obs.sh
network = host
mount = /sys/fs/cgroup:/cg:ro
mount = /etc:/hostetc:ro
mount = /proc:/hostproc:ro
depends = lim plain
main = yes
restart = no
INI

disk=$VM_OUT/limits-disk.img
rm -f "$disk"
mke2fs -q -F -t ext4 "$disk" 8M 2>"$VM_OUT/limits-disk.log" ||
    vm_fail "limits: disk image" "$(cat "$VM_OUT/limits-disk.log")"
img=$VM_OUT/limits.cpio
vm_image "limits: image" "$manifest" "$extra" "$img"

# --- the boot ----------------------------------------------------------------------------
vm_start limits "$img" "" -- -drive "file=$disk,if=virtio,format=raw" -nic user,model=e1000
vm_wait_ok "limits: the observer ran" 'LIMITS done' 180 "no 'LIMITS done' (timeout or keel died)"
vm_wait_end 120

# got KEY: the value of the observer's "LIMITS KEY=..." line.
got() { tr -d '\r' < "$VM_CONSOLE" | awk -v k="LIMITS $1=" '$1 == "obs" && (i = index($0, k)) { print substr($0, i + length(k)); exit }'; }
# outp NAME KEY: the value of container NAME's probe line KEY=...
outp() { tr -d '\r' < "$VM_CONSOLE" | awk -v p="$1" -v k="$2=" '$1 == p && $2 == "|" && index($3, k) == 1 { print substr($3, length(k) + 1); exit }'; }
# is NAME ACTUAL EXPECTED
is() {
    if [ "$2" = "$3" ]; then vm_ok "$1"; else vm_not_ok "$1" "got '$2', expected '$3'"; fi
}

vda=$(got vda)
if [[ $vda =~ ^[0-9]+:[0-9]+$ ]]; then vm_ok "limits: the virtio disk is there ($vda)"
else vm_not_ok "limits: the virtio disk is there" "/sys/block/vda/dev: '$vda'"; fi
is "limits: memory_high = 48M writes memory.high" "$(got lim.memory.high)" 50331648
is "limits: io_{read,write}_{bps,iops} write one io.max line for the disk" "$(got lim.io.max)" \
    "$vda rbps=2097152 wbps=1048576 riops=300 wiops=200;"
is "limits: a container without limits has the default memory.high" "$(got plain.memory.high)" max
is "limits: a container without io keys has an empty io.max" "$(got plain.io.max)" ""
is "limits: oom_score_adj = 500 in the container" "$(outp lim data:/proc/self/oom_score_adj)" 500
is "limits: keel itself runs at oom_score_adj -1000 (the control)" "$(got keel.oom_score_adj)" -1000
is "limits: a container without oom_score_adj is at 0, not keel's -1000" \
    "$(outp plain data:/proc/self/oom_score_adj)" 0
is "limits: [interface] mtu on the uplink" "$(got eth0.mtu)" 1400
is "limits: [system] dns in the machine's /etc/resolv.conf" "$(got system.resolv)" \
    "nameserver 10.0.2.3;nameserver 192.0.2.53;"
is "limits: [system] dns in a container's /etc/resolv.conf" "$(got container.resolv)" \
    "nameserver 10.0.2.3;nameserver 192.0.2.53;"
vm_refute "limits: no kernel panic" 'Kernel panic|Attempted to kill init'
vm_end_is "limits: the main container's exit powers off" poweroff
