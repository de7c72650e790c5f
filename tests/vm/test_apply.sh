#!/bin/bash
# test_apply.sh — `keel apply` with keel as PID 1 (Debian's kernel under QEMU
# TCG) and a secret on a [system] fstab disk.  At boot the manifest is read
# before the disk is mounted, so the load cannot digest the secret; keel
# digests it right after the fstab mounts, before any container starts
# (docs/operations.md, "Files a manifest names").  One boot:
#   - container sec reads the disk's secret (tok-1);
#   - the client (keel's binary bound at /bin/keel, keel's /run at /run, the
#     disk at /data) applies the same manifest: "no changes" (the boot's digest
#     is the disk file's, as the apply's is: taken before the mount, or not at
#     all, it would differ and restart sec);
#   - it rewrites the secret on the disk and applies again: the plan restarts
#     sec for the secret (before: both digests unknown, "no changes"), and sec's
#     new run reads tok-2;
#   - then it asks for a poweroff.
set -u
. "$(dirname "$0")/lib.sh"
cd "$VM_REPO"

vm_require_keel "apply: image"
vm_require_tools "apply: image" mke2fs

disk=$VM_OUT/apply-disk
rm -rf "$disk"
mkdir -p "$disk"
printf 'tok-1\n' > "$disk/token"
img=$VM_OUT/apply-disk.img
rm -f "$img"
mke2fs -q -F -t ext4 -d "$disk" "$img" 16M >"$VM_OUT/apply-disk.log" 2>&1 ||
    vm_fail "apply: disk image" "$(cat "$VM_OUT/apply-disk.log")"

extra=$VM_OUT/apply-extra
rm -rf "$extra"
mkdir -p "$extra/layers/client"
cat > "$extra/layers/client/client.sh" <<'SH'
#!/bin/sh
/bin/keel apply /etc/keel/keel.ini > /tmp/a1 2>&1
echo "apply1-rc $?"
sed 's/^/apply1: /' /tmp/a1
printf 'tok-2\n' > /data/token
/bin/keel apply /etc/keel/keel.ini > /tmp/a2 2>&1
echo "apply2-rc $?"
sed 's/^/apply2: /' /tmp/a2
i=0
until /bin/keel logs sec 2>/dev/null | grep -q 'data:/run/token=tok-2'; do
    i=$((i + 1)); [ $i -ge 60 ] && break
    sleep 1
done
echo "asking for poweroff"
/bin/keel poweroff > /tmp/pw 2>&1
echo "poweroff-rc $?"
trap 'exit 0' TERM
sleep 1000 &
wait
SH
chmod +x "$extra/layers/client/client.sh"

cat > "$VM_OUT/apply.ini" <<'INI'
[system]
modules = overlay virtio_pci virtio_blk ext4
fstab = /dev/vda /data ext4
control = unix:///run/keel.sock
stop_timeout = 3

[container sec]
layers = /layers/base
secret = /data/token:/run/token
command = /bin/probe read /run/token print sec-up trap TERM sleep inf

[container client]
layers = /layers/client:/layers/base
upper = tmpfs
mount = /init:/bin/keel:ro
mount = /run:/run:ro
mount = /etc/keel:/etc/keel:ro
mount = /data:/data
depends = sec
restart = no
command = /bin/sh /client.sh
INI
cpio=$VM_OUT/apply.cpio
vm_image "apply: image" "$VM_OUT/apply.ini" "$extra" "$cpio"

vm_start keel-apply "$cpio" "" -- -drive "file=$img,if=virtio,format=raw"
vm_wait_end 180
vm_assert "apply: the fstab disk is mounted" 'keel: mounted /dev/vda /data ext4'
vm_assert "apply: sec reads the disk's secret" 'sec \| data:/run/token=tok-1'
vm_assert "apply: the same manifest after boot has no changes (the secret was digested after the mount)" \
    'client \| apply1: no changes'
vm_refute "apply: the same manifest after boot restarts nothing" 'client \| apply1: restart'
vm_assert "apply: a secret changed on the fstab disk restarts its container" \
    'client \| apply2: restart +sec: secret; secret /data/token changed'
vm_assert "apply: the restarted container reads the new secret" 'sec \| data:/run/token=tok-2'
vm_end_is "apply: the client's poweroff" poweroff
vm_refute "apply: no kernel panic" 'Kernel panic|Attempted to kill init'
