#!/bin/bash
# test_images.sh — image files as layers (issue 15, src/layerimg.c): erofs
# and squashfs images named in `layers =`, attached to read-only loop devices,
# mounted once in keel's mount namespace and shared, detached when no
# container needs them and when keel exits.
#
# The images are made here with mkfs.erofs (erofs-utils) and mksquashfs
# (squashfs-tools).  What is asserted is read from the kernel: the files a
# container sees (the probe), keel's mounts (/proc/KEEL/mountinfo), the loop
# devices bound to an image (/sys/block/loop*/loop/backing_file: the loop
# driver is global, so only devices naming this test's files count).  After
# keel exits, its mount namespace is kept alive by a process of the test
# that entered it, so a mount keel left behind (and the loop device under
# it) would still be there to see: without that hold the namespace's end
# alone would clean up.
. "$(dirname "$0")/lib.sh"

# The tools and kernel features every test here needs; a skip names the one missing.
images_missing() {
    local t
    for t in mkfs.erofs mksquashfs; do
        command -v "$t" > /dev/null || { echo "$t is not installed (make deps)"; return; }
    done
    [ -c /dev/loop-control ] || { echo "this kernel has no loop driver (/dev/loop-control)"; return; }
    for t in erofs squashfs; do
        grep -qw "$t" /proc/filesystems || modprobe -q "$t" 2> /dev/null
        grep -qw "$t" /proc/filesystems || { echo "this kernel has no $t file system"; return; }
    done
}

# skip_unless_images NAME...: reports each NAME as a skip and ends the test
# when something is missing.
skip_unless_images() {
    local why n
    why=$(images_missing)
    [ -z "$why" ] && return 0
    for n in "$@"; do
        _DONE+=("$n")
        echo "skip - host: $n: $why"
    done
    exit 0
}

# mk_images: $T/img/top.erofs (/etc/layer = erofs, /etc/erofs-only, a setuid
# file /suid) and $T/img/mid.sqfs (/etc/layer = squashfs, /etc/squash-only).
mk_images() {
    local top mid
    top=$(mk_layer top) mid=$(mk_layer mid)
    mkdir -p "$top/etc" "$mid/etc" "$T/img"
    echo erofs > "$top/etc/layer"
    echo yes > "$top/etc/erofs-only"
    printf '#!/bin/sh\n' > "$top/suid"
    chmod 4755 "$top/suid"
    echo squashfs > "$mid/etc/layer"
    echo yes > "$mid/etc/squash-only"
    mkfs.erofs --quiet --all-root "$T/img/top.erofs" "$top" > "$T/mkfs.log" 2>&1 ||
        fail "mkfs.erofs failed: $(tail -n 2 "$T/mkfs.log")"
    mksquashfs "$mid" "$T/img/mid.sqfs" -quiet -noappend -all-root > "$T/mkfs.log" 2>&1 ||
        fail "mksquashfs failed: $(tail -n 2 "$T/mkfs.log")"
}

# loops_of FILE: how many loop devices are bound to FILE now.
loops_of() {
    local f n=0
    for f in /sys/block/loop*/loop/backing_file; do
        [ -r "$f" ] && [ "$(cat "$f" 2> /dev/null)" = "$1" ] && n=$((n + 1))
    done
    echo "$n"
}

# loop_flags FILE: "ro=R autoclear=A dio=D" of the loop device bound to FILE.
loop_flags() {
    local f d
    for f in /sys/block/loop*/loop/backing_file; do
        [ -r "$f" ] && [ "$(cat "$f" 2> /dev/null)" = "$1" ] || continue
        d=${f%/backing_file}
        echo "ro=$(cat "$d/../ro") autoclear=$(cat "$d/autoclear") dio=$(cat "$d/dio")"
        return
    done
}

# image_mounts MOUNTINFO: the lines of keel's image mounts (erofs or squashfs) in it.
image_mounts() {
    awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "erofs" || $(i + 1) == "squashfs") print; break } }' "$1" 2> /dev/null
}

# mount_dir FILE: where keel mounts image FILE (RUN_DIR/images/DEV-INO, hex).
mount_dir() {
    printf '/run/keel/images/%x-%x' "$(stat -c %d "$1")" "$(stat -c %i "$1")"
}

# held_mounts: the image mounts in keel's mount namespace, held by $HOLDER.
HOLDER=""
held_mounts() {
    image_mounts "/proc/$HOLDER/mountinfo"
}

# Layers from top to bottom: an erofs image over a squashfs image over a
# directory.  One container writes to its upper, another has a read-only
# root; both name the same two images, which keel attaches and mounts once.
test_stacked() {
    plan files_visible upper_writes readonly_root setuid_bit_kept one_loop_each one_mount_each loop_flags \
        plan_names_images nothing_left_after_exit
    skip_unless_images files_visible upper_writes readonly_root setuid_bit_kept one_loop_each one_mount_each \
        loop_flags plan_names_images nothing_left_after_exit
    mk_images
    local top=$T/img/top.erofs mid=$T/img/mid.sqfs
    manifest <<EOF
$(system_section)
[container rw]
layers = $top:$mid:$LAYERS/base
upper = tmpfs
command = /bin/probe read /etc/layer read /etc/erofs-only read /etc/squash-only read /etc/passwd stat /suid write /etc/new read /etc/new print done sleep inf
[container ro]
layers = $top:$mid:$LAYERS/base
command = /bin/probe read /etc/layer write /etc/x print done sleep inf
EOF
    keel_start
    wait_out rw done || fail "rw did not come up ($WHY)"
    wait_out ro done || fail "ro did not come up ($WHY)"
    check files_visible "the layers' files are not all visible, top first" \
        eq "$(c_value rw data:/etc/layer) $(c_value rw data:/etc/erofs-only) $(c_value rw data:/etc/squash-only) $(c_value rw read:/etc/passwd)" \
        "erofs yes yes ok"
    check upper_writes "the upper of an image-backed root is not writable" \
        eq "$(c_value rw write:/etc/new) $(c_value rw data:/etc/new)" "ok probe"
    check readonly_root "a root of images without upper is not read-only" \
        eq "$(c_value ro data:/etc/layer) $(c_value ro write:/etc/x)" "erofs EROFS"
    # The image's setuid bit is kept as data (what it does is the overlay
    # root's nosuid's business, as for directory layers).
    check setuid_bit_kept "the setuid bit of a file in the image is lost" \
        eq "$(c_value rw stat:/suid | cut -d' ' -f2)" 4755
    # Two containers, two images: one loop device and one mount each.
    local kp
    kp=$(keel_pid)
    [ -n "$kp" ] || fail "cannot find keel's pid"
    check one_loop_each "not exactly one loop device per image while both containers run" \
        eq "$(loops_of "$top") $(loops_of "$mid")" "1 1"
    check one_mount_each "not exactly one mount per image in keel's namespace" \
        eq "$(image_mounts "/proc/$kp/mountinfo" | awk '{ print $5 }' | sort | tr '\n' ' ')" \
        "$(printf '%s\n' "$(mount_dir "$top")" "$(mount_dir "$mid")" | sort | tr '\n' ' ')"
    # Read-only, auto-clearing, and direct I/O exactly when the file system
    # holding the image takes O_DIRECT (else keel falls back without it).
    local dio=0
    dd if="$top" of=/dev/null bs=4096 count=1 iflag=direct status=none 2> /dev/null && dio=1
    check loop_flags "the loop devices are not read-only, auto-clearing, direct I/O where possible" \
        eq "$(loop_flags "$top"); $(loop_flags "$mid")" "ro=1 autoclear=1 dio=$dio; ro=1 autoclear=1 dio=$dio"
    keel_check --plan "$T/keel.ini"
    check plan_names_images "keel check --plan does not name the image layers" \
        eval 'grep_in "^  layer image: $(re_quote "$top") \(erofs\) " "$CHECK_OUT" &&
              grep_in "^  layer image: $(re_quote "$mid") \(squashfs\) " "$CHECK_OUT"'
    # Keep keel's mount namespace after keel is gone, with a process of the
    # host's PID namespace in it: a mount keel did not undo would stay there,
    # and hold its loop device.
    nsenter --target "$kp" --mount sleep $((60 * SLOW)) &
    HOLDER=$!
    trap 'kill "$HOLDER" 2> /dev/null; _cleanup' EXIT
    wait_until 5 eval '[ "$(readlink "/proc/$HOLDER/ns/mnt")" = "$(readlink "/proc/$kp/ns/mnt")" ]' ||
        fail "cannot hold keel's mount namespace"
    # Positive control: the held namespace is keel's, with the image mounts.
    local before
    before=$(held_mounts | wc -l)
    keel_stop || fail "keel did not stop ($WHY)"
    if [ "$before" != 2 ]; then
        check nothing_left_after_exit "the held namespace is not keel's ($before image mounts in it)" false
    elif ! wait_until 10 eval '[ -z "$(held_mounts)" ]'; then
        check nothing_left_after_exit "an image is still mounted in keel's namespace after keel exited" \
            eq "$(held_mounts | head -n 1)" ""
    else
        check nothing_left_after_exit "a loop device is still bound to an image after keel exited" \
            wait_until 10 eval '[ "$(loops_of "$top") $(loops_of "$mid")" = "0 0" ]'
    fi
    kill "$HOLDER"
}

# With a user namespace the image mounts enter the overlay idmapped, like
# directory layers: a file that is root's in the image is the container's
# root's inside, while the container's root is an unprivileged host uid.
test_userns() {
    plan userns_files userns_owner userns_host_uid
    skip_unless_images userns_files userns_owner userns_host_uid
    mk_images
    manifest <<EOF
$(system_section)
[container u]
layers = $T/img/top.erofs:$T/img/mid.sqfs:$LAYERS/base
userns = auto
upper = tmpfs
command = /bin/probe read /etc/layer stat /etc/erofs-only stat /etc/squash-only print done sleep inf
EOF
    keel_start
    wait_out u done || fail "u did not come up ($WHY)"
    check userns_files "the image's files are not visible under userns" eq "$(c_value u data:/etc/layer)" erofs
    check userns_owner "files of the images are not the container root's inside" \
        eq "$(c_value u stat:/etc/erofs-only | cut -d' ' -f3) $(c_value u stat:/etc/squash-only | cut -d' ' -f3)" "0:0 0:0"
    # Control: the root inside is not the host's root.
    check userns_host_uid "the container's root is host uid 0" \
        eq "$(awk '/^Uid:/ { print $2 }' "$(nsproc)/$(started_pid u)/status" 2> /dev/null)" 524288
    keel_stop || fail "keel did not stop ($WHY)"
}

# An image is unmounted (and its loop device goes) once no container uses
# it any more, while keel runs on: here its only user exits for good
# (restart = no) while another container keeps keel up.
test_released_when_unused() {
    plan image_was_used released
    skip_unless_images image_was_used released
    mk_images
    local top=$T/img/top.erofs
    manifest <<EOF
$(system_section)
[container once]
layers = $top:$LAYERS/base
restart = no
command = /bin/probe read /etc/erofs-only print done
[container stays]
layers = $LAYERS/base
command = /bin/probe print up sleep inf
EOF
    keel_start
    wait_out stays up || fail "stays did not come up ($WHY)"
    wait_out once done || fail "once did not run ($WHY)"
    check image_was_used "the image's file was not visible" eq "$(c_value once data:/etc/erofs-only)" yes
    wait_until 10 eval '[ "$(loops_of "$top")" = 0 ] && [ -z "$(image_mounts "/proc/$(keel_pid)/mountinfo")" ]'
    check released "the image stayed mounted or attached after its only container ended (loops: $(loops_of "$top"), mounts: $(image_mounts "/proc/$(keel_pid)/mountinfo" | wc -l))" \
        eq "$(loops_of "$top") $(image_mounts "/proc/$(keel_pid)/mountinfo" | wc -l)" "0 0"
    keel_running || fail "keel exited"
    keel_stop || fail "keel did not stop ($WHY)"
}

# Files that are not images: refused by `keel check` with what they are
# (positive control: the same manifest with a real image passes); a corrupt
# erofs image (its magic right, its superblock garbage) passes the check but
# fails the container's start with the mount's reason, and leaves no loop
# device behind.
test_refused() {
    plan check_accepts_image unknown_refused ext4_refused fifo_refused corrupt_fails_start corrupt_no_loop_left
    skip_unless_images check_accepts_image unknown_refused ext4_refused fifo_refused corrupt_fails_start \
        corrupt_no_loop_left
    mk_images
    head -c 65536 /dev/zero | tr '\0' 'x' > "$T/img/junk.img"
    truncate -s 4M "$T/img/disk.ext4"
    mkfs.ext4 -q -F "$T/img/disk.ext4" > /dev/null 2>&1 || fail "mkfs.ext4 failed"
    cp "$T/img/top.erofs" "$T/img/bad.erofs"
    # Everything after the magic, the checksum and the block size bits: 0xff.
    printf '\377%.0s' $(seq 100) | dd of="$T/img/bad.erofs" bs=1 seek=$((1024 + 16)) conv=notrunc status=none
    local l
    mkfifo "$T/img/fifo"
    for l in top.erofs junk.img disk.ext4 fifo; do
        manifest "$T/$l.ini" <<EOF
[container c]
layers = $T/img/$l:$LAYERS/base
command = /bin/probe print done
EOF
    done
    keel_check "$T/top.erofs.ini"
    check check_accepts_image "keel check refused a real erofs image (status $CRC: $(head -n 1 "$CHECK_ERR"))" eq "$CRC" 0
    keel_check "$T/junk.img.ini"
    check unknown_refused "keel check did not refuse a file without a known superblock" \
        grep_in "junk\.img\.ini:[0-9]+: container 'c': layer $T/img/junk\.img is neither a directory nor an erofs or squashfs image \(no known superblock\)" "$CHECK_ERR"
    keel_check "$T/disk.ext4.ini"
    check ext4_refused "keel check did not refuse an ext4 image by what it is" \
        grep_in "layer $T/img/disk\.ext4 is neither a directory nor an erofs or squashfs image \(it is ext2/3/4\)" "$CHECK_ERR"
    # A FIFO is looked at, never opened for reading (that would block: keel
    # check's own timeout would end the test).
    keel_check "$T/fifo.ini"
    check fifo_refused "keel check did not refuse a FIFO as a layer" \
        grep_in "layer $T/img/fifo is not a directory nor an image file" "$CHECK_ERR"
    manifest <<EOF
$(system_section)
[container bad]
layers = $T/img/bad.erofs:$LAYERS/base
restart = no
command = /bin/probe print ran
[container stays]
layers = $LAYERS/base
command = /bin/probe print up sleep inf
EOF
    keel_start
    wait_out stays up || fail "stays did not come up ($WHY)"
    wait_klog "error: bad: failed: " || fail "the corrupt image's container did not fail ($WHY)"
    local why
    why=$(klog "error: bad: failed: cannot mount the erofs image $(re_quote "$T/img/bad.erofs") \(on /dev/loop[0-9]+\): ")
    check corrupt_fails_start "the corrupt image's start did not fail with the mount's reason" \
        eval 'grep_in "$why" "$ERR" && ! c_lines bad | grep -q ran'
    check corrupt_no_loop_left "a loop device stayed bound to the corrupt image" \
        wait_until 10 eval '[ "$(loops_of "$T/img/bad.erofs")" = 0 ]'
    keel_stop || fail "keel did not stop ($WHY)"
}

run_tests "$@"
