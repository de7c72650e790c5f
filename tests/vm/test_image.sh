#!/bin/bash
# test_image.sh — issue 15's "Done means" path, end to end: a `docker save`
# tar (written by tests/tools/mkimage: three layers, a whiteout, an opaque
# directory, a hard link, a setuid file, Entrypoint/Cmd/Env/WorkingDir/User),
# `keel import`, a five-line manifest with `image =`, `make initramfs`'s
# mkinitramfs, and a boot of the appliance under QEMU TCG (one boot).  The
# container's lines on the console are its own view of its root.  The
# opaque directory matters here: cpio carries no xattrs, so mkinitramfs
# rewrites it as whiteouts (initramfs/opaque-whiteouts).
set -u
. "$(dirname "$0")/lib.sh"
cd "$VM_REPO"

vm_require_keel "image: keel"
vm_require_layers "image: layers"
vm_require_tools "image: tools" python3

dest=$VM_OUT/images
tests/tools/mkimage --format docker --base build/layers/base --out "$VM_OUT/app.tar" --tag myapp:latest \
    > "$VM_OUT/mkimage.log" 2>&1 || vm_fail "image: mkimage" "$(tail -n 3 "$VM_OUT/mkimage.log")"
"$KEEL" import "$VM_OUT/app.tar" "$dest" > "$VM_OUT/import.log" 2>&1 ||
    vm_fail "image: keel import" "$(tail -n 3 "$VM_OUT/import.log")"
# The README's manifest: five lines (on_exit = poweroff is the default; keel
# loads no module by itself).
cat > "$VM_OUT/app.ini" <<INI
[system]
modules = overlay
[container app]
image = $dest/myapp
main = yes
INI
vm_image "image: initramfs" "$VM_OUT/app.ini" "" "$VM_OUT/app.cpio"
vm_start image "$VM_OUT/app.cpio"
vm_wait_ok "image: the imported image boots and its container runs" 'app +\| DONE=yes' 120
vm_wait_end 60
vm_assert_each "image: the container's view" 'app +\| {}' \
    'ARG0=first' 'ARG1=second arg' 'CWD=/home/app' 'ID=1000:1000' 'GREETING=hello from the image' \
    'LAYER=three' 'GONE=absent' 'OPQ=new[^a-z]*$' 'MODE=4755' 'LINKS=2' 'HARD=same' 'SYMLINK=hello'
vm_end_is "image: on_exit = poweroff after the main container" poweroff
