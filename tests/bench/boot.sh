#!/bin/bash
# boot.sh RUNS — section 5 of the benchmark (run by bench.py, inside the bench
# namespaces): boots the demo appliance (configs/demo.ini, keel as PID 1) and a
# busybox-init image running the same service, alternately, RUNS times each,
# under QEMU with -accel tcg (tests/vm/lib.sh), and prints one KEY=VALUE line
# per figure and run on stdout (milliseconds); progress goes to stderr.
#
#   keel_work        keel's boot work before the first container runs: from
#                    keel's first console line to "NAME: started" (the exec),
#                    minus module loading (guest monotonic clock)
#   kernel           kernel start to keel's first line (guest clock)
#   modules          module loading before the first container's exec: keel's
#                    "stage: modules before the first start: N loaded in X ms"
#                    (older keels: "stage: modules loaded" minus the line before)
#                    plus the looking for a manifest's (qemu_fw_cfg, the config
#                    disk's drivers: keel's "stage: manifest probe modules: N
#                    loaded in X ms"; probe_modules is X)
#   modules_before_n how many modules that loaded (N)
#   modules_after    [system] modules_split: the modules loaded after the first
#                    start, in the background ("stage: modules after the first
#                    start: K loaded in Y ms"); modules_after_n is K
#   keel_setup       keel's first line to the first "stage: NAME: exec", minus modules
#   container_start  "stage: NAME: exec" to "NAME: started"
#   keel_total       QEMU started to the service answering HTTP (host clock)
#   busybox_total    the same for the busybox-init image
#   equal_*          every guest-clock figure above for the equal-work
#                    appliance (tests/bench/boot-equal.ini: the demo's
#                    container with network = none, no uplink, overlay the
#                    only module: the floor init's work); its boot is timed
#                    to keel's "NAME: started" line, not to an answer
#   keel_erofs_total and erofs_* (every figure above, and image_modules: loop
#                    and erofs loaded for the layers): the demo image built with
#                    --layers-format erofs (make initramfs LAYERS_FORMAT=erofs),
#                    when mkfs.erofs is installed
#   image_kib, erofs_image_kib, image_gz_kib, erofs_image_gz_kib
#                    the two images' sizes, as booted (uncompressed cpio) and gzip -6
#   floor_work       the floor init (tests/bench/floor-init.c) booted in the
#                    same guest: its first line to its exec of the same
#                    command (pseudo-filesystems, off rootfs, the overlay),
#                    minus its module loading (overlay.ko; floor_modules);
#                    compare with keel_setup (guest clock)
#   floor_kernel     kernel start to the floor's first line
#   floor_iso_work, floor_iso_kernel, floor_iso_modules
#                    the same for the isolated boot floor (floor-init.c with
#                    isolate=1: the floor plus what keel does at boot for
#                    boot-equal.ini's default container: cgroups, lo, the
#                    namespaces, floor -i's isolation, the seccomp filter);
#                    compare with equal_keel_setup
#
# The busybox image: the demo image's files (its layers and modules) with
# busybox init as /init; /etc/init.d/rcS is a shell script doing the mounts
# keel does at boot (proc, sys, dev, devpts, shm, run, tmp, cgroup2), loading
# the same modules with modprobe, configuring eth0 like [interface eth0] and
# mounting the service's overlay root; inittab respawns httpd chrooted into it.
#
# Needs tests/vm/lib.sh, initramfs/mkinitramfs and configs/demo.ini (from the
# boot issue).  Exit status 0 when every boot answered.
set -u
here=$(cd "$(dirname "$0")" && pwd)
REPO=${REPO:-$(cd "$here/../.." && pwd)}
runs=${1:-1}
cd "$REPO"
# BOOT_ARCH=arm64 (bench.py's arm64 section): the arm64 demo image
# (configs/demo-arm64.ini, build/arm64/keel, Debian's arm64 kernel) on
# qemu-system-aarch64 -M virt -cpu max; keel's image only, same figures.
VM_ARCH=${BOOT_ARCH:-x86_64}
. tests/vm/lib.sh
manifest=configs/demo.ini
img_args=()
if [ "$VM_ARCH" = arm64 ]; then
    KEEL=${KEEL:-$REPO/build/arm64/keel}
    manifest=configs/demo-arm64.ini
    img_args=(--sysroot "$VM_SYSROOT" --layers "$REPO/build/arm64/layers")
    export BUSYBOX=$VM_SYSROOT/bin/busybox
    BOOT_IMAGES=keel
fi
KEEL=${KEEL:-$REPO/build/keel}
out=$REPO/build/bench/boot${BOOT_ARCH:+-$BOOT_ARCH}
mkdir -p "$out"
say() { echo "  boot: $*" >&2; }
die() { echo "boot.sh: error: $*" >&2; vm_stop 2>/dev/null; exit 1; }
port=${BOOT_PORT:-18080}

# --- images ---------------------------------------------------------------------
initramfs/mkinitramfs --keel "$KEEL" --manifest "$manifest" --out "$out/keel.cpio" "${img_args[@]}" >&2 ||
    die "cannot build the keel image"
# The equal-work appliance (tests/bench/boot-equal.ini): the floor init's work
# as a keel manifest, the demo's container with network = none, no uplink.
initramfs/mkinitramfs --keel "$KEEL" --manifest tests/bench/boot-equal.ini --out "$out/keel_equal.cpio" \
    "${img_args[@]}" >&2 || die "cannot build the equal-work keel image"
# The same appliance with its layers as erofs images.
images="keel keel_equal busybox floor floor_iso"
kib() { echo $(( ($(wc -c < "$1") + 1023) / 1024 )); }
gz_kib() { echo $(( ($(gzip -6 -n -c "$1" | wc -c) + 1023) / 1024 )); }
echo "image_kib=$(kib "$out/keel.cpio")"
echo "image_gz_kib=$(gz_kib "$out/keel.cpio")"
if [ "$VM_ARCH" = arm64 ]; then
    :   # keel's image only: the busybox-init image below is made of the host's busybox
elif command -v mkfs.erofs >/dev/null; then
    initramfs/mkinitramfs --keel "$KEEL" --manifest configs/demo.ini --out "$out/keel_erofs.cpio" \
        --layers-format erofs >&2 || die "cannot build the keel image with erofs layers"
    images="keel keel_equal busybox floor floor_iso keel_erofs"
    echo "erofs_image_kib=$(kib "$out/keel_erofs.cpio")"
    echo "erofs_image_gz_kib=$(gz_kib "$out/keel_erofs.cpio")"
else
    say "mkfs.erofs is not installed: no boot with erofs layers (apt-get install erofs-utils)"
fi

bb=$out/busybox-root
[ "$VM_ARCH" = arm64 ] || {
rm -rf "$bb"
mkdir -p "$bb"
(cd "$bb" && cpio --quiet -id < "$out/keel.cpio") || die "cannot unpack the keel image"
rm -f "$bb/init"
mkdir -p "$bb/bin" "$bb/etc/init.d" "$bb/proc" "$bb/sys" "$bb/dev" "$bb/run" "$bb/tmp" "$bb/mnt/root" "$bb/mnt/rw"
cp /bin/busybox "$bb/bin/busybox"
for a in sh mount mkdir modprobe ip hostname chroot httpd init sleep cat; do ln -sf busybox "$bb/bin/$a"; done
ln -sf bin/busybox "$bb/init"
[ -e "$bb/dev/console" ] || mknod -m 600 "$bb/dev/console" c 5 1
layers=$(sed -nE 's/^[[:space:]]*layers[[:space:]]*=[[:space:]]*([^;#[:space:]]+).*/\1/p' configs/demo.ini | head -n1)
modules=$(sed -nE 's/^[[:space:]]*modules[[:space:]]*=[[:space:]]*([^;#]+).*/\1/p' configs/demo.ini | head -n1)
cat > "$bb/etc/init.d/rcS" <<EOF
#!/bin/sh
# The mounts keel makes at boot, the same modules, the same network.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
hostname keel-demo
modprobe -a $modules
ip link set lo up
ip addr add 10.0.2.15/24 dev eth0
ip link set eth0 up
ip route add default via 10.0.2.2
mount -t tmpfs tmpfs /mnt/rw
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay overlay -o lowerdir=$layers,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work /mnt/root
mount -t proc proc /mnt/root/proc
echo "busybox: service starting"
EOF
chmod 0755 "$bb/etc/init.d/rcS"
cat > "$bb/etc/inittab" <<'EOF'
::sysinit:/etc/init.d/rcS
::respawn:/bin/chroot /mnt/root /bin/httpd -f -p 80 -h /www
EOF
vm_cpio "$bb" "$out/busybox.cpio" || die "cannot build the busybox image"
}

# The floor image: the demo image's files with floor-init as /init, told the
# manifest's layers and command (the container's work, no network: it is
# timed to its exec on the console, not to an answer).
# (x86-64 only: floor-init needs build/gen/seccomp_prebuilt.h, and the arm64
# section boots keel's image only.)
[ "$VM_ARCH" = arm64 ] || {
    fl=$out/floor-root
    floor_bin=$REPO/build/bench/bin/floor-init
    if [ ! -x "$floor_bin" ] || [ "$here/floor-init.c" -nt "$floor_bin" ] || [ "$here/floor-iso.c" -nt "$floor_bin" ] ||
        [ "$here/floor-iso.h" -nt "$floor_bin" ] || [ "$REPO/build/gen/seccomp_prebuilt.h" -nt "$floor_bin" ]; then
        mkdir -p "$(dirname "$floor_bin")"
        gcc -O2 -Wall -Wextra -Werror -static -I "$REPO/build/gen" -o "$floor_bin" "$here/floor-init.c" \
            "$here/floor-iso.c" || die "cannot build floor-init"
    fi
    rm -rf "$fl"
    mkdir -p "$fl"
    (cd "$fl" && cpio --quiet -id < "$out/keel.cpio") || die "cannot unpack the keel image"
    rm -f "$fl/init"
    cp "$floor_bin" "$fl/init"
    mkdir -p "$fl/dev" "$fl/proc" "$fl/sys" "$fl/run" "$fl/tmp" "$fl/newroot"
    [ -e "$fl/dev/console" ] || mknod -m 600 "$fl/dev/console" c 5 1
    command=$(sed -nE 's/^[[:space:]]*command[[:space:]]*=[[:space:]]*([^;#]+).*/\1/p' configs/demo.ini | head -n1)
    name=$(sed -nE 's/^[[:space:]]*\[container[[:space:]]+([^]]+)\].*/\1/p' configs/demo.ini | head -n1)
    {
        find "$fl/lib/modules" -name 'overlay.ko*' | sed "s|^$fl|module=|"
        printf 'layers=%s\ncommand=%s\nname=%s\n' "$layers" "$command" "$name"
    } > "$fl/floor.conf"
    vm_cpio "$fl" "$out/floor.cpio" || die "cannot build the floor image"
    # The isolated boot floor: the same files, isolate=1 (floor-init.c: what
    # keel does at boot for boot-equal.ini's default container, by hand).
    echo "isolate=1" >> "$fl/floor.conf"
    vm_cpio "$fl" "$out/floor_iso.cpio" || die "cannot build the isolated floor image"
}

# --- one boot ------------------------------------------------------------------------
# boot NAME IMG: boots, waits for the page, prints NAME_total=MS; the console
# stays in $VM_CONSOLE.
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
boot() {
    local name=$1 img=$2 t0 t1 deadline
    t0=$(now_ms)
    vm_start "bench-$name" "$img" "" -- -nic "user,model=$(vm_nic_model),hostfwd=tcp:127.0.0.1:$port-:80" ||
        die "cannot start QEMU"
    deadline=$((SECONDS + 120))
    while :; do
        if curl -fsS --max-time 1 -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null; then
            t1=$(now_ms)
            break
        fi
        vm_running || { tail -n 20 "$VM_CONSOLE" >&2; die "the $name guest ended before serving"; }
        [ $SECONDS -lt $deadline ] || { tail -n 20 "$VM_CONSOLE" >&2; die "the $name guest did not serve within 120 s"; }
        sleep 0.02
    done
    echo "${name}_total=$((t1 - t0))"
    say "$name: service answered after $((t1 - t0)) ms"
}

# boot_floor NAME: boots the floor image NAME (floor, floor_iso), waits for
# its exec line, prints its figures (NAME_kernel, NAME_modules, NAME_work).
boot_floor() {
    local name=$1 deadline=$((SECONDS + 120))
    vm_start "bench-$name" "$out/$name.cpio" "" -- || die "cannot start QEMU"
    until grep -q 'floor: exec' "$VM_CONSOLE" 2>/dev/null; do
        vm_running || { tail -n 20 "$VM_CONSOLE" >&2; die "the $name guest ended before its exec"; }
        grep -q 'floor: error' "$VM_CONSOLE" && { tail -n 20 "$VM_CONSOLE" >&2; die "the $name init failed"; }
        [ $SECONDS -lt $deadline ] || { tail -n 20 "$VM_CONSOLE" >&2; die "the $name init did not exec within 120 s"; }
        sleep 0.02
    done
    tr -d '\r' < "$VM_CONSOLE" | awk -v name="$name" '
        function ts(line) { match(line, /^\[ *[0-9]+\.[0-9]+\]/); return substr(line, RSTART + 1, RLENGTH - 2) * 1000 }
        / floor: start/ && start == "" { start = ts($0) }
        / floor: modules$/ && m0 == "" { m0 = ts($0) }
        / floor: modules loaded/ && m1 == "" { m1 = ts($0) }
        / floor: exec/ && exec == "" { exec = ts($0) }
        END {
            if (start == "" || exec == "" || m0 == "" || m1 == "") exit 1
            printf "%s_kernel=%.3f\n%s_modules=%.3f\n%s_work=%.3f\n", name, start, name, m1 - m0, name,
                exec - start - (m1 - m0)
        }' || die "no floor lines on the console"
    say "$name: exec line seen"
}

# boot_started NAME IMG: boots an image whose container cannot be reached
# from the host (keel_equal: network = none) and waits for keel's line saying
# that its container started.
boot_started() {
    local name=$1 img=$2 deadline=$((SECONDS + 120))
    vm_start "bench-$name" "$img" "" -- || die "cannot start QEMU"
    until grep -qE ' keel: [^ ]+: started, pid ' "$VM_CONSOLE" 2>/dev/null; do
        vm_running || { tail -n 20 "$VM_CONSOLE" >&2; die "the $name guest ended before its container started"; }
        [ $SECONDS -lt $deadline ] || { tail -n 20 "$VM_CONSOLE" >&2; die "the $name container did not start within 120 s"; }
        sleep 0.02
    done
    say "$name: container started"
}

# keel_figures: the guest-clock figures from keel's console lines.
keel_figures() {
    tr -d '\r' < "$VM_CONSOLE" | awk '
        function ts(line) { match(line, /^\[ *[0-9]+\.[0-9]+\]/); return substr(line, RSTART + 1, RLENGTH - 2) * 1000 }
        !/ keel: / { next }
        { t = ts($0) }
        first == "" { first = t }
        / keel: stage: modules loaded/ { modules = t - prev }
        / keel: stage: image layer modules loaded/ { imgmod = t - prev }
        # keel measures each phase itself (modules_split: the first
        # container'"'"'s before its start, the rest after it in the background).
        / keel: stage: modules before the first start: / {
            match($0, /: [0-9]+ loaded in [0-9]+ ms/); split(substr($0, RSTART + 2, RLENGTH - 2), w, " ")
            before_n = w[1]; before = w[4]
        }
        / keel: stage: modules after the first start: / {
            match($0, /: [0-9]+ loaded in [0-9]+ ms/); split(substr($0, RSTART + 2, RLENGTH - 2), w, " ")
            after_n = w[1]; after = w[4]
        }
        # Looking for a manifest (fw_cfg, config disk) loads modules too.
        / keel: stage: manifest probe modules: / {
            match($0, /loaded in [0-9.]+ ms/); split(substr($0, RSTART, RLENGTH), w, " ")
            probe = w[3]
        }
        / keel: stage: [^ ]+: exec / && exec == "" { exec = t }
        / keel: [^ ]+: started, pid / && started == "" { started = t }
        { prev = t }
        END {
            if (first == "" || started == "") exit 1
            if (modules == "") modules = 0
            if (imgmod == "") imgmod = 0
            if (exec == "") exec = started
            # Its own figure when keel gives it: both steps (the unknown
            # modules, then after the volumes the plan'"'"'s others and the image layers'"'"').
            if (before != "") { modules = before; imgmod = 0 }
            if (probe != "") { modules += probe; printf "probe_modules=%.3f\n", probe }
            if (before_n != "") printf "modules_before_n=%d\n", before_n
            if (after != "") printf "modules_after=%.3f\nmodules_after_n=%d\n", after, after_n
            printf "kernel=%.3f\nmodules=%.3f\nkeel_setup=%.3f\ncontainer_start=%.3f\nkeel_work=%.3f\n",
                first, modules, exec - first - modules - imgmod, started - exec, started - first - modules - imgmod
            if (imgmod > 0) printf "image_modules=%.3f\n", imgmod
        }'
}

# BOOT_IMAGES="keel keel_equal busybox floor floor_iso keel_erofs" (default): which images to boot, alternately.
for ((i = 0; i < runs; i++)); do
    for name in ${BOOT_IMAGES:-$images}; do
        if [ "$name" = floor ] || [ "$name" = floor_iso ]; then
            boot_floor "$name"
            cp "$VM_CONSOLE" "$out/$name-$i.console"
            vm_stop
            continue
        fi
        if [ "$name" = keel_equal ]; then
            boot_started "$name" "$out/$name.cpio"
        else
            boot "$name" "$out/$name.cpio"
        fi
        cp "$VM_CONSOLE" "$out/$name-$i.console"
        if [ "$name" = keel_equal ]; then
            { keel_figures || { tail -n 20 "$VM_CONSOLE" >&2; die "no keel stage lines on the console"; }; } |
                sed 's/^/equal_/'
        elif [ "$name" = keel ]; then
            keel_figures || { tail -n 20 "$VM_CONSOLE" >&2; die "no keel stage lines on the console"; }
        elif [ "$name" = keel_erofs ]; then
            { keel_figures || { tail -n 20 "$VM_CONSOLE" >&2; die "no keel stage lines on the console"; }; } |
                sed 's/^/erofs_/'
        fi
        vm_stop
    done
done
exit 0
