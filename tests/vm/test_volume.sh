#!/bin/bash
# test_volume.sh — [volume] disks found by their superblocks, mkfs on an empty
# disk only, data that outlives a power-off, and where the manifest comes from
# (issues 15 and 16).  Four virtio disks, in this order:
#   vda junk    16 MiB, random bytes at its start (no file system)
#   vdb empty   64 MiB of zeros: `[volume scratch] device = /dev/vdb, mkfs = ext4`
#   vdc other   ext4 labelled "other" (a label that does not match)
#   vdd data    ext4 labelled "keeldata", holding /seed: `[volume data] label = keeldata`
# and, in boots 2 and 3, vde: a config disk (ext4 labelled KEELCFG, /keel.ini).
#   boot 1: the image's manifest says "source=image"; QEMU's fw_cfg
#           opt/keel/manifest wins over it.  keel formats vdb (empty), finds
#           keeldata on vdd among the four, the container writes to both
#           volumes (a bind of volume:data/app, its upper on volume:scratch),
#           a read-only bind is read-only; QEMU's system_powerdown stops it and
#           keel unmounts both volumes: on the host, the files are on the
#           disks, both file systems are clean, vdb is ext4 labelled scratch.
#   boot 2: no fw_cfg: the config disk's manifest wins over the image's; the
#           same volumes: nothing is formatted again, the upper's file and the
#           boot count (2) are read back; a `userns = auto` container (its
#           layer on the volume) writes into volume:data/u/sub, which keel
#           made for it: on the disk both are in its range (524288), while
#           what keel made for a container without userns is root's; a
#           volume path through a symlink planted in the volume is refused.
#   boot 3: keel.manifest= on the command line wins over fw_cfg and the config
#           disk; its [volume junk] asks mkfs of vda, which holds data: keel
#           refuses with a clear error (the boot fails, powering off) and the
#           disk is unchanged, byte for byte.
#   boot 4: only a config disk whose /keel.ini is a FIFO: refused at once
#           with a clear error (the boot fails, powering off), not waited on.
set -u
. "$(dirname "$0")/lib.sh"
cd "$VM_REPO"

vm_require_keel "volume: image"
vm_require_tools "volume: image" mke2fs debugfs dumpe2fs sha256sum
vm_require_layers "volume: image"

# --- disks -------------------------------------------------------------------------------
d=$VM_OUT/volume
rm -rf "$d"
mkdir -p "$d/seed" "$d/cfg" "$d/extra/etc/keel"
junk=$d/junk.img empty=$d/empty.img other=$d/other.img data=$d/data.img cfg=$d/cfg.img
{ head -c 4096 /dev/urandom; head -c $((16 * 1024 * 1024 - 4096)) /dev/zero; } > "$junk"
truncate -s 64M "$empty"
echo seeded > "$d/seed/seed"
# A layer on the volume (idmappable: userns on 6.1 needs layers on ext4, not
# the initramfs's tmpfs), and a symlink out of the volume, as a container
# sharing the volume could plant one.
mkdir -p "$d/seed/layers"
cp -a build/layers/base "$d/seed/layers/base"
ln -s /etc "$d/seed/evil"
mklog=$d/mke2fs.log
mke2fs -q -F -t ext4 -L other "$other" 16M >/dev/null 2>"$mklog" &&
    mke2fs -q -F -t ext4 -L keeldata -d "$d/seed" "$data" 32M >/dev/null 2>>"$mklog" ||
    vm_fail "volume: disk images" "$(cat "$mklog")"
junk_sum=$(sha256sum < "$junk")

# --- manifests ---------------------------------------------------------------------------
head_ini='[system]
modules = overlay virtio_pci virtio_blk ext4 button evdev
stop_timeout = 3
on_exit = poweroff
'
volumes_ini='
[volume data]
label = keeldata

[volume scratch]
device = /dev/vdb
mkfs = ext4
options = noatime
'
# The image's own manifest: never used by the boots below.
printf '%s\n[container app]\nlayers = /layers/base\nmain = yes\nrestart = no\ncommand = /bin/sh -c "echo source=image"\n' \
    "$head_ini" > "$d/image.ini"
# fw_cfg's (boot 1): writes, then waits for the power button.
cat > "$d/fwcfg.ini" <<INI
$head_ini$volumes_ini
[container app]
layers = /layers/base
upper = volume:scratch/app-root
mount = volume:data/app:/data
mount = volume:data:/all:ro
main = yes
restart = no
command = /bin/sh -c "echo source=fwcfg; echo seed=\$(cat /all/seed); if touch /all/x 2>/dev/null; then echo ro=no; else echo ro=yes; fi; echo boot >> /data/boots; echo root-persists > /persist; sync; echo boots=\$(wc -l < /data/boots); echo written; trap 'exit 0' TERM; sleep 1000 & wait"
INI
# The config disk's (boot 2): reads back; a userns container writes a
# directory keel makes for it; a read-only root (no upper) takes a volume
# at /srv/vol, which its image lacks; a path through a symlink is refused.  All
# exit: on_exit powers off.
cat > "$d/cfg/keel.ini" <<INI
$head_ini$volumes_ini
[container app]
layers = /layers/base
upper = volume:scratch/app-root
mount = volume:data/app:/data
restart = no
command = /bin/sh -c "echo source=configdisk; echo persist=\$(cat /persist); echo boot >> /data/boots; echo boots=\$(wc -l < /data/boots)"

[container u]
layers = /var/lib/keel/volumes/data/layers/base
userns = auto
upper = tmpfs
mount = volume:data/u/sub:/u
restart = no
command = /bin/sh -c "if echo made > /u/f; then echo u-wrote=yes; else echo u-wrote=no; fi"

[container ro]
layers = /layers/base
mount = volume:data/ro:/srv/vol
restart = no
command = /bin/sh -c "if echo ro > /srv/vol/f; then echo ro-vol=yes; else echo ro-vol=no; fi"

[container evil]
layers = /layers/base
upper = tmpfs
mount = volume:data/evil/x:/x
restart = no
command = /bin/sh -c "echo evil-ran"
INI
# The command line's (boot 3): mkfs of a disk that holds data.
cat > "$d/extra/etc/keel/refuse.ini" <<INI
$head_ini
[volume junk]
device = /dev/vda
mkfs = ext4

[container app]
layers = /layers/base
mount = volume:junk:/junk
command = /bin/sh -c "echo source=cmdline"
INI
mke2fs -q -F -t ext4 -L KEELCFG -d "$d/cfg" "$cfg" 8M >/dev/null 2>>"$mklog" || vm_fail "volume: config disk" "$(cat "$mklog")"

cpio=$d/volume.cpio
# --mke2fs: the image's own manifest formats nothing, the ones given at boot do.
"$VM_REPO/initramfs/mkinitramfs" --keel "$KEEL" --manifest "$d/image.ini" --extra "$d/extra" --mke2fs \
    --out "$cpio" 2>"$d/mk.log" || vm_fail "volume: image" "$(tail -n 5 "$d/mk.log")"
if [ -z "$(cpio -it < "$cpio" 2>/dev/null | grep -E 'qemu_fw_cfg\.ko')" ]; then
    vm_not_ok "volume: the image holds qemu_fw_cfg" "not in $(basename "$cpio")"
else
    vm_ok "volume: the image holds qemu_fw_cfg"
fi
# make initramfs puts mke2fs (and the libraries it needs) in an image whose
# manifest says mkfs, and only then.
for m in fwcfg:yes image:no; do
    "$VM_REPO/initramfs/mkinitramfs" --keel "$KEEL" --manifest "$d/${m%%:*}.ini" --out "$d/${m%%:*}-only.cpio" \
        2>>"$d/mk.log" || vm_fail "volume: image" "$(tail -n 5 "$d/mk.log")"
    list=$(cpio -it < "$d/${m%%:*}-only.cpio" 2>/dev/null)
    has=no
    grep -qx 'sbin/mke2fs' <<< "$list" && grep -q 'libext2fs\.so' <<< "$list" && has=yes
    [ "$has" = "${m#*:}" ] && vm_ok "volume: mke2fs in the image: ${m#*:} for the ${m%%:*} manifest" ||
        vm_not_ok "volume: mke2fs in the image: ${m#*:} for the ${m%%:*} manifest" "found: $has"
    rm -f "$d/${m%%:*}-only.cpio"
done
disks=(-drive "file=$junk,if=virtio,format=raw" -drive "file=$empty,if=virtio,format=raw"
       -drive "file=$other,if=virtio,format=raw" -drive "file=$data,if=virtio,format=raw")
cfgdisk=(-drive "file=$cfg,if=virtio,format=raw")
fwcfg=(-fw_cfg "name=opt/keel/manifest,file=$d/fwcfg.ini")

# --- boot 1: fw_cfg, mkfs, write, power off through QEMU ----------------------------------------
vm_start keel-volume-1 "$cpio" "" -- "${disks[@]}" "${fwcfg[@]}"
vm_wait_ok "volume: the container wrote to its volumes" 'app \| written' 180
vm_assert "volume: fw_cfg's manifest wins over the image's" 'keel: stage: manifest source: fw_cfg opt/keel/manifest \(/run/keel/manifest.ini\)'
vm_assert "volume: fw_cfg's manifest is the one run" 'app \| source=fwcfg'
vm_assert "volume: mkfs formats the empty disk" 'keel: volume scratch: /dev/vdb is empty: formatting it as ext4'
vm_assert "volume: the label is found among four disks" 'keel: volume data: /dev/vdd \(ext4, label keeldata\) mounted on /var/lib/keel/volumes/data'
vm_assert "volume: a bind of the whole volume shows its files" 'app \| seed=seeded'
vm_assert "volume: mount = volume:NAME:DST:ro is read-only" 'app \| ro=yes'
vm_assert "volume: first boot count" 'app \| boots=1'
vm_mon system_powerdown
vm_wait_end 120
vm_assert "volume: volumes unmounted at shutdown" 'keel: volume data: unmounted'
vm_end_is "volume: clean poweroff through QEMU" poweroff
for img in "$data" "$empty"; do
    state=$(dumpe2fs -h "$img" 2>/dev/null | sed -n 's/^Filesystem state: *//p')
    [ "$state" = clean ] && vm_ok "volume: $(basename "$img") is clean after the poweroff" ||
        vm_not_ok "volume: $(basename "$img") is clean after the poweroff" "state: ${state:-unknown}"
done
name=$(dumpe2fs -h "$empty" 2>/dev/null | sed -n 's/^Filesystem volume name: *//p')
[ "$name" = scratch ] && vm_ok "volume: mkfs made ext4 labelled with the volume's name" ||
    vm_not_ok "volume: mkfs made ext4 labelled with the volume's name" "label: ${name:-none}"
got=$(debugfs -R "cat /app/boots" "$data" 2>/dev/null)
[ "$got" = boot ] && vm_ok "volume: the container's write is on the data disk" ||
    vm_not_ok "volume: the container's write is on the data disk" "/app/boots: ${got:-missing}"
got=$(debugfs -R "cat /app-root/upper/persist" "$empty" 2>/dev/null)
[ "$got" = root-persists ] && vm_ok "volume: upper = volume:scratch/app-root holds the root's writes" ||
    vm_not_ok "volume: upper = volume:scratch/app-root holds the root's writes" "upper/persist: ${got:-missing}"

# --- boot 2: the config disk; the data read back ----------------------------------------------
vm_start keel-volume-2 "$cpio" "" -- "${disks[@]}" "${cfgdisk[@]}"
vm_wait_end 180
vm_assert "volume: the config disk's manifest wins over the image's" 'keel: stage: manifest source: config disk KEELCFG'
vm_assert "volume: the config disk is found by its label" 'keel: config disk: /dev/vde \(ext4, label KEELCFG\)'
vm_assert "volume: the config disk's manifest is the one run" 'app \| source=configdisk'
vm_refute "volume: a formatted disk is not formatted again" 'formatting it'
vm_assert "volume: the upper on a volume persists across a power-off" 'app \| persist=root-persists'
vm_assert "volume: the data volume persists across a power-off" 'app \| boots=2'
vm_assert "volume: under userns the container writes a directory keel made on the volume" 'u \| u-wrote=yes'
vm_assert "volume: a read-only root takes a volume at a path its image lacks (the init layer)" 'ro \| ro-vol=yes'
vm_assert "volume: a path through a symlink in the volume is refused" 'cannot open evil/x on volume data \(a symlink or a file on the path is refused\)'
vm_refute "volume: the container whose path was refused does not run" 'evil \| evil-ran'
vm_end_is "volume: the containers' exit powers off" poweroff
owner() { debugfs -R "stat $1" "$data" 2>/dev/null | grep -oE 'User: +[0-9]+ +Group: +[0-9]+' | awk '{ print $2 ":" $4 }'; }
o_sub=$(owner /u/sub) o_f=$(owner /u/sub/f) o_u=$(owner /u)
[ "$o_sub" = 524288:524288 ] && [ "$o_f" = 524288:524288 ] && [ "$o_u" = 524288:524288 ] &&
    vm_ok "volume: under userns what keel made and the container wrote is in the container's range" ||
    vm_not_ok "volume: under userns what keel made and the container wrote is in the container's range" \
        "owners: /u ${o_u:-?}, /u/sub ${o_sub:-?}, /u/sub/f ${o_f:-?} (expected 524288:524288)"
[ "$(owner /app)" = 0:0 ] && vm_ok "volume: a path made for a container without userns is root's" ||
    vm_not_ok "volume: a path made for a container without userns is root's" "/app is $(owner /app)"

# --- boot 3: the command line wins; mkfs refuses a disk with data -------------------------------
vm_start keel-volume-3 "$cpio" "keel.manifest=/etc/keel/refuse.ini" -- "${disks[@]}" "${cfgdisk[@]}" "${fwcfg[@]}"
vm_wait_end 180
vm_assert "volume: keel.manifest= wins over fw_cfg and the config disk" 'keel: stage: manifest source: kernel command line keel.manifest= \(/etc/keel/refuse.ini\)'
vm_assert "volume: mkfs refuses a disk that holds data, with a clear error" 'keel: error: volume junk: refusing to format /dev/vda: it holds data keel does not recognise'
vm_refute "volume: nothing runs after the refusal" 'app \| source='
vm_end_is "volume: the failed boot powers off" poweroff
[ "$(sha256sum < "$junk")" = "$junk_sum" ] && vm_ok "volume: the refused disk is unchanged" ||
    vm_not_ok "volume: the refused disk is unchanged" "its bytes changed"
vm_refute "volume: no kernel panic" 'Kernel panic|Attempted to kill init'

# --- boot 4: a config disk whose /keel.ini is a FIFO ---------------------------------------------
# The disk comes from the platform: nodev does not stop a FIFO, and a
# blocking open of one waits for a writer that never comes (PID 1 hung at
# boot, before any watchdog).  keel refuses it at once and powers off.
mkdir -p "$d/fifo"
mkfifo "$d/fifo/keel.ini"
fifocfg=$d/fifocfg.img
mke2fs -q -F -t ext4 -L KEELCFG -d "$d/fifo" "$fifocfg" 8M >/dev/null 2>>"$mklog" ||
    vm_fail "volume: FIFO config disk" "$(cat "$mklog")"
if [ "$(debugfs -R 'stat /keel.ini' "$fifocfg" 2>/dev/null | grep -oE 'Type: [a-zA-Z]+')" != "Type: FIFO" ]; then
    vm_not_ok "volume: the config disk's /keel.ini is a FIFO" "mke2fs -d made $(debugfs -R 'stat /keel.ini' "$fifocfg" 2>&1 | head -n 2)"
else
    vm_ok "volume: the config disk's /keel.ini is a FIFO"
fi
vm_start keel-volume-4 "$cpio" "" -- -drive "file=$fifocfg,if=virtio,format=raw"
vm_wait_end 120
vm_assert "volume: a FIFO as the config disk's /keel.ini is refused, not waited on" \
    'keel: error: cannot read /keel.ini from the config disk /dev/vda \(label KEELCFG\): not a regular file'
vm_end_is "volume: the refused config disk powers off" poweroff
