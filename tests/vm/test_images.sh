#!/bin/bash
# test_images.sh — image-file layers in boot mode (issue 15) on Debian's 6.1
# kernel, where loop and erofs are modules: an image made by
# `mkinitramfs --layers-format erofs` (make initramfs LAYERS_FORMAT=erofs)
# holds its layers as erofs files and a manifest naming them; keel loads
# loop and erofs itself (the manifest's `modules` names neither), attaches
# each image once, and two containers share the base image.  One boot.
#
# The facts come from the machine, read by a container with the host's
# /proc bound at /hostproc: keel's mounts (/hostproc/1/mountinfo), the loop
# devices and their backing files (/sys/block/loop*/loop), the modules, and
# the files of each layer.
set -u
. "$(dirname "$0")/lib.sh"
cd "$VM_REPO"

vm_require_keel "images: image"
vm_require_layers "images: image"
vm_require_tools "images: image" mkfs.erofs

extra=$VM_OUT/images-extra
rm -rf "$extra"
mkdir -p "$extra/layers/probe/hostproc"
cat > "$extra/layers/probe/probe.sh" <<'SH'
#!/bin/sh
echo "facts: root $(awk '$2 == "/" { print $3 }' /proc/mounts | tail -n 1)"
echo "facts: base layer file $(cat /etc/layer)"
echo "facts: keel image mounts $(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "erofs") printf "%s:%s ", $5, $(i + 2); break } }' /hostproc/1/mountinfo)"
n=0
for f in /sys/block/loop*/loop/backing_file; do
    [ -r "$f" ] || continue
    n=$((n + 1))
    echo "facts: loop $(basename "$(dirname "$(dirname "$f")")") $(cat "$f") ro=$(cat "${f%/loop/backing_file}/ro") autoclear=$(cat "${f%/backing_file}/autoclear") dio=$(cat "${f%/backing_file}/dio")"
done
echo "facts: loops bound $n"
echo "facts: modules $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
echo "facts: done"
trap 'exit 0' TERM
sleep 1000 &
wait
SH
chmod +x "$extra/layers/probe/probe.sh"

cat > "$VM_OUT/images.ini" <<'INI'
[system]
modules = overlay button evdev
stop_timeout = 3

[container facts]
layers = /layers/probe:/layers/base
upper = tmpfs
command = /bin/sh /probe.sh
network = host
mount = /proc:/hostproc:ro

[container other]
layers = /layers/base
command = /bin/sh -c "echo other: $(cat /etc/layer); trap 'exit 0' TERM; sleep 1000 & wait"
INI
img=$VM_OUT/images.cpio
initramfs/mkinitramfs --keel "$KEEL" --manifest "$VM_OUT/images.ini" --extra "$extra" --out "$img" \
    --layers-format erofs 2> "$img.mk.log" || vm_fail "images: image" "$(tail -n 5 "$img.mk.log")"
files=$(cpio -it --quiet < "$img" | grep -E '^layers/' | sort | tr '\n' ' ')
if [ "$files" = "layers/base.erofs layers/probe.erofs " ] &&
    cpio -i --quiet --to-stdout etc/keel/keel.ini < "$img" | grep -qx 'layers = /layers/probe.erofs:/layers/base.erofs'; then
    vm_ok "images: LAYERS_FORMAT=erofs packs each layer as an erofs file the manifest names"
else
    vm_not_ok "images: LAYERS_FORMAT=erofs packs each layer as an erofs file the manifest names" "layers in the image: $files"
fi

vm_start images "$img"
if ! vm_wait 'facts: done' 120; then
    vm_not_ok "images: the containers run from erofs layers" "no facts within 120 s"
    vm_stop
    exit 1
fi
vm_wait 'other: base' 30
vm_assert "images: the containers run from erofs layers" 'facts: base layer file base'
vm_assert "images: the base file is seen by the other container too" 'other: base'
vm_assert "images: the root is an overlay" 'facts: root overlay'
vm_assert "images: keel loaded loop and erofs itself" 'facts: modules .*(loop .*erofs|erofs .*loop)'
# Two images, each mounted once read-only by keel, on two read-only loop
# devices: base.erofs is shared by both containers.
vm_assert "images: each image mounted once, read-only" \
    'facts: keel image mounts /run/keel/images/[0-9a-f]+-[0-9a-f]+:/dev/loop[0-9]+ /run/keel/images/[0-9a-f]+-[0-9a-f]+:/dev/loop[0-9]+ *[[:cntrl:]]*$'
vm_assert "images: two loop devices bound, one per image" 'facts: loops bound 2'
vm_assert_each "images: each image on a read-only, auto-clearing loop device" 'facts: loop loop[0-9]+ /layers/{}\.erofs ro=1 autoclear=1' base probe
vm_mon system_powerdown
vm_wait_end 60
vm_assert "images: filesystems unmounted at shutdown without failure" 'keel: filesystems unmounted: [0-9]+, detached busy: [0-9]+, failed: 0'
vm_refute "images: keel logged no error" 'keel: error:'
vm_end_is "images: powers off" poweroff
