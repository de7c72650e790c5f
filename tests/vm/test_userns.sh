#!/bin/bash
# test_userns.sh — a data disk and user namespaces on Debian's own kernel
# (6.1), where keel is PID 1:
#   boot 1: [system] fstab mounts an ext4 virtio disk (made here with
#           mke2fs -d, no loop device) after loading its modules; a
#           `userns = auto` container runs from a layer on it, with an upper
#           directory on it: the layers and the upper are idmapped (overlayfs
#           takes idmapped layers from 5.19), so the image's uid 0 and uid
#           1000 files are 0 and 1000 inside, the container's root is host
#           uid 524288, and it counts its boots in its upper; a `nofail`
#           entry that cannot mount is a warning; the main container's exit
#           powers the machine off, unmounting the disk.
#   boot 2: the same disk: the count is 2 (the upper persisted), and on the
#           disk (debugfs, from the host) the file the container's root wrote
#           belongs to uid 0, not to 524288; the file system is clean
#           (keel's shutdown unmounted it).
set -u
. "$(dirname "$0")/lib.sh"
cd "$VM_REPO"

vm_require_keel "userns: image"
vm_require_tools "userns: image" mke2fs debugfs
vm_require_layers "userns: image"

# --- the data disk ---------------------------------------------------------------------
disk=$VM_OUT/userns-disk
rm -rf "$disk"
mkdir -p "$disk/layers" "$disk/up"
cp -a build/layers/base "$disk/layers/app"
install -m 0755 build/probe "$disk/layers/app/bin/probe"
echo owned > "$disk/layers/app/owned"
chown 1000:1000 "$disk/layers/app/owned"
img=$VM_OUT/userns-disk.img
rm -f "$img"
mke2fs -q -F -t ext4 -d "$disk" "$img" 64M 2>"$VM_OUT/userns-disk.log" ||
    vm_fail "userns: disk image" "$(cat "$VM_OUT/userns-disk.log")"

cat > "$VM_OUT/userns.ini" <<'INI'
[system]
modules = overlay virtio_pci virtio_blk ext4
fstab = /dev/vda /data ext4 noatime
fstab = none /nowhere nosuchfs nofail
stop_timeout = 2
on_exit = poweroff

[container u]
layers = /data/layers/app
upper = /data/up
userns = auto
main = yes
restart = no
command = /bin/probe ids read /proc/self/uid_map stat /owned stat /bin/probe count /boots stat /boots print done exit 0
INI
cpio=$VM_OUT/userns.cpio
vm_image "userns: image" "$VM_OUT/userns.ini" "" "$cpio"
disk_args=(-drive "file=$img,if=virtio,format=raw")

# --- boot 1 ----------------------------------------------------------------------------
vm_start keel-userns-1 "$cpio" "" -- "${disk_args[@]}"
vm_wait_end 120
vm_assert "fstab: the data disk is mounted after its modules" 'keel: mounted /dev/vda /data ext4 rw,nosuid,nodev,noatime'
vm_assert "fstab: a nofail entry that cannot mount is a warning" 'keel: warning: cannot mount none on /nowhere \(nosuchfs\).*nofail: going on'
vm_assert "fstab: stage line" 'keel: stage: file systems mounted: 1 of 2'
vm_assert "userns: the container runs from the disk's layer" 'u \| done'
vm_assert "userns: auto map on Linux 6.1" 'u \| data:/proc/self/uid_map= +0 +524288 +65536'
vm_assert "userns: root inside" 'u \| uid=0'
vm_assert "userns: the layer's uid 0 files are root's inside (idmapped)" 'u \| stat:/bin/probe=file 0755 0:0'
vm_assert "userns: the layer's uid 1000 file is 1000 inside (idmapped)" 'u \| stat:/owned=file 0644 1000:1000'
vm_assert "userns: the container writes its idmapped upper" 'u \| count:/boots=1'
vm_end_is "userns: the main container's exit powers off" poweroff
vm_refute "userns: no kernel panic" 'Kernel panic|Attempted to kill init'

# --- boot 2: the same disk ----------------------------------------------------------------
vm_start keel-userns-2 "$cpio" "" -- "${disk_args[@]}"
vm_wait_end 120
vm_assert "userns: the upper on the disk persists across a reboot" 'u \| count:/boots=2'
owner=$(debugfs -R "stat /up/upper/boots" "$img" 2>/dev/null | grep -oE 'User: +[0-9]+ +Group: +[0-9]+' | awk '{ print $2 ":" $4 }')
[ "$owner" = 0:0 ] && vm_ok "userns: the upper stores the container's ids on disk (0:0, not 524288)" ||
    vm_not_ok "userns: the upper stores the container's ids on disk" "owner on disk: ${owner:-unknown}"
vm_end_is "userns: clean poweroff with the disk mounted" poweroff
# ext4 marks itself clean only when it is unmounted: keel's shutdown did.
state=$(dumpe2fs -h "$img" 2>/dev/null | sed -n 's/^Filesystem state: *//p')
[ "$state" = clean ] && vm_ok "fstab: the disk was unmounted at shutdown (clean)" ||
    vm_not_ok "fstab: the disk was unmounted at shutdown" "file system state: ${state:-unknown}"
