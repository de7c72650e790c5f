# lib.sh — boot Debian's kernel with a test initramfs under QEMU and read its
# serial console.  Sourced by tests/vm/run-all, tests/vm/test_*.sh and
# initramfs/demo.
#
#   vm_kernel                       the uncompressed kernel ELF (extracted once, cached)
#   vm_cpio DIR OUT                 a newc cpio of DIR (owned by root), uncompressed
#   vm_start NAME IMG [APPEND] [-- QEMU-ARGS...]
#                                   boots IMG in the background; console in $VM_CONSOLE,
#                                   monitor socket $VM_MON, QEMU's pid in $VM_PID
#   vm_wait REGEX [SECONDS]         waits until the console matches (grep -E); never hangs:
#                                   fails at the timeout or as soon as QEMU is gone
#   vm_mon CMD                      one human-monitor command (system_powerdown, sendkey ...)
#   vm_wait_end [SECONDS]           waits for the guest to end; sets VM_END to poweroff,
#                                   reboot, halt, panic, timeout or gone (QEMU ended with no
#                                   kernel line saying why); kills QEMU on timeout or halt
#   vm_stop                         kills QEMU if it still runs
#   vm_ok NAME / vm_not_ok NAME WHY / vm_skip NAME WHY    TAP-like result lines
#   vm_assert NAME REGEX            ok when the console matches, else not ok with a tail
#   vm_refute NAME REGEX            ok when the console does not match
#   vm_assert_each NAME REGEX ITEM...   ok when REGEX matches with {} as each ITEM
#   vm_wait_ok NAME REGEX SECONDS [WHY]   vm_wait, reported as NAME
#   vm_end_is NAME END              ok when the guest ended as END (after vm_wait_end)
#
# Set-up (each reports NAME as not ok and ends the script when it fails):
#   vm_fail NAME WHY                the not ok line, then exit 1
#   vm_require_keel NAME            KEEL: the release keel ($KEEL, default build/keel)
#   vm_require_test_keel NAME       KEEL: the test build ($KEEL_TEST, default build/test/keel)
#   vm_require_tools NAME TOOL...   each TOOL on PATH
#   vm_require_layers NAME          build/layers/base and build/probe exist
#   vm_payload NAME SRC OUT         SRC built static with gcc (warnings are errors) into OUT
#                                   (aarch64-linux-gnu-gcc when VM_ARCH=arm64)
#   vm_harness PREFIX SRC OUT       SRC linked static with keel's objects (build/obj)
#   vm_image NAME MANIFEST EXTRA OUT [KEEL]   initramfs/mkinitramfs (EXTRA may be "")
#
# With -no-reboot a guest reboot makes QEMU exit, like a poweroff does; the
# kernel's last words on the console tell them apart ("reboot: Power down",
# "reboot: Restarting system", "reboot: System halted" are printed at
# KERN_EMERG, so `quiet` does not hide them).  VM_REBOOT=yes around vm_start
# lets the guest really reboot (the console then shows a second boot).
#
# Files: the kernel is cached in VM_CACHE (build/vm, shared, written
# atomically).  Everything a run writes (images, consoles, monitor sockets,
# QEMU logs) goes to VM_OUT, a directory of this process's own under
# build/vm (removed at exit unless VM_KEEP=1), so two runs at once never
# share a console or a monitor.  A caller that sets VM_OUT owns it.
#
# Status: a script that printed a "not ok" line exits 1 (vm_not_ok sets
# VM_FAILED; the EXIT trap turns it into the status), whatever it exits with:
# scripts keep no failure counter of their own.

VM_REPO=${VM_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
VM_CACHE=${VM_CACHE:-$VM_REPO/build/vm}
mkdir -p "$VM_CACHE"
if [ -z "${VM_OUT:-}" ]; then
    VM_OUT=$(mktemp -d "$VM_CACHE/run.XXXXXX") || { echo "not ok - vm: setup: cannot make a run directory in $VM_CACHE"; exit 1; }
    VM_OUT_OWNED=yes
else
    mkdir -p "$VM_OUT"
    VM_OUT_OWNED=no
fi
VM_ACCEL=${VM_ACCEL:-tcg}
# VM_ARCH=arm64: Debian's arm64 kernel (unpacked into build/arm64/sysroot by
# tests/tools/arm64-sysroot, never installed) on qemu-system-aarch64 -M virt
# -cpu max; its console is the PL011 (ttyAMA0), its power button QEMU's
# gpio-keys (system_powerdown: gpio_keys + evdev), its NIC virtio-net-pci.
VM_ARCH=${VM_ARCH:-x86_64}
VM_SYSROOT=${VM_SYSROOT:-$VM_REPO/build/arm64/sysroot}
VM_MEM=${VM_MEM:-512}
# Guest CPUs (one by default: the tests share two host cores); more shows
# keel's parallel module loading (modules_split, docs/boot.md).
VM_SMP=${VM_SMP:-1}
VM_PIDS=()
VM_FAILED=0

vm_kernel() {
    if [ "$VM_ARCH" = arm64 ]; then
        # QEMU unpacks the gzip'd Image itself (on the host, not under TCG).
        local k
        k=$(ls -1 "$VM_SYSROOT"/boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)
        [ -n "$k" ] || { echo "vm: no arm64 kernel in $VM_SYSROOT (tests/tools/arm64-sysroot)" >&2; return 1; }
        echo "$k"
        return 0
    fi
    "$VM_REPO/tests/vm/extract-vmlinux" "" "$VM_CACHE/vmlinux" >&2 || return 1
    echo "$VM_CACHE/vmlinux"
}

# The QEMU command line's machine part and the console for VM_ARCH.
# pauth-impdef=on: -cpu max's pointer authentication with QEMU's cheap
# implementation-defined hash instead of QARMA, which TCG computes slowly
# (the arm64 boot to the first container: ~25 s with QARMA, ~10 s without).
vm_machine() {
    if [ "$VM_ARCH" = arm64 ]; then
        echo "qemu-system-aarch64 -accel $VM_ACCEL -M virt -cpu max,pauth-impdef=on"
    else
        echo "qemu-system-x86_64 -accel $VM_ACCEL -M pc"
    fi
}
vm_console_dev() {
    if [ "$VM_ARCH" = arm64 ]; then echo ttyAMA0; else echo ttyS0; fi
}
# The NIC model QEMU gives the guest (the manifest loads its driver).
vm_nic_model() {
    if [ "$VM_ARCH" = arm64 ]; then echo virtio-net-pci; else echo e1000; fi
}

vm_cpio() {
    local dir=$1 out=$2
    (cd "$dir" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) > "$out.tmp" &&
        mv "$out.tmp" "$out"
}

vm_start() {
    local name=$1 img=$2 append=${3:-}
    shift 2; [ $# -gt 0 ] && shift
    [ "${1:-}" = -- ] && shift
    local kernel
    kernel=$(vm_kernel) || return 1
    vm_boot_time
    VM_NAME=$name
    VM_CONSOLE=$VM_OUT/$name.console
    VM_MON=$VM_OUT/$name.mon
    rm -f "$VM_CONSOLE" "$VM_MON"
    : > "$VM_CONSOLE"
    local noreboot=-no-reboot
    [ "${VM_REBOOT:-no}" = yes ] && noreboot=
    # shellcheck disable=SC2086
    $(vm_machine) -m "$VM_MEM" -smp "$VM_SMP" \
        -display none $noreboot \
        -kernel "$kernel" -initrd "$img" \
        -append "console=$(vm_console_dev) rdinit=/init panic=-1 quiet $append" \
        -serial "file:$VM_CONSOLE" \
        -monitor "unix:$VM_MON,server=on,wait=off" \
        "$@" </dev/null >"$VM_OUT/$name.qemu.log" 2>&1 &
    VM_PID=$!
    VM_PIDS+=("$VM_PID")
    VM_END=
    VM_BOOT_T0=${EPOCHREALTIME/./}
}

# vm_boot_time: "# time: boot NAME N.N s" (QEMU's start to its end, or to now
# for one still running), once per boot; vm_wait_end, vm_stop and the EXIT
# trap call it, so the log shows each boot's share of a script's time.
VM_BOOT_T0=
vm_boot_time() {
    [ -n "$VM_BOOT_T0" ] || return 0
    local ms=$(( (${EPOCHREALTIME/./} - VM_BOOT_T0) / 1000 ))
    VM_BOOT_T0=
    printf '# time: boot %s%s %d.%d s\n' "$VM_NAME" "$([ "$VM_ARCH" = arm64 ] && echo ' (arm64)')" \
        $((ms / 1000)) $((ms % 1000 / 100))
}

vm_running() {
    [ -n "${VM_PID:-}" ] && kill -0 "$VM_PID" 2>/dev/null
}

vm_wait() {
    local re=$1 secs=${2:-60}
    local deadline=$((SECONDS + secs))
    while :; do
        grep -aqE -- "$re" "$VM_CONSOLE" 2>/dev/null && return 0
        if ! vm_running; then
            grep -aqE -- "$re" "$VM_CONSOLE" 2>/dev/null && return 0
            return 1
        fi
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.1
    done
}

vm_mon() {
    local i
    for i in $(seq 50); do
        [ -S "$VM_MON" ] && break
        sleep 0.1
    done
    printf '%s\n' "$*" | timeout 5 socat - "UNIX-CONNECT:$VM_MON" >/dev/null 2>&1
}

# The kernel's last reboot line decides what the guest asked for.
vm_end_reason() {
    local last
    last=$(grep -aoE 'reboot: (Power down|Restarting system|System halted)|Kernel panic' "$VM_CONSOLE" | tail -n 1)
    case $last in
    "reboot: Power down") echo poweroff ;;
    "reboot: Restarting system") echo reboot ;;
    "reboot: System halted") echo halt ;;
    "Kernel panic") echo panic ;;
    *) echo "" ;;
    esac
}

vm_wait_end() {
    local secs=${1:-60}
    local deadline=$((SECONDS + secs))
    while vm_running; do
        local r
        r=$(vm_end_reason)
        if [ "$r" = halt ] || [ "$r" = panic ]; then
            # A halted or panicked (panic=-1 reboots, but just in case) guest
            # leaves QEMU running: nothing more will happen, stop it.
            sleep 0.2
            vm_stop
            VM_END=$r
            return 0
        fi
        if [ $SECONDS -ge $deadline ]; then
            vm_stop
            VM_END=timeout
            return 1
        fi
        sleep 0.1
    done
    wait "$VM_PID" 2>/dev/null
    vm_boot_time
    VM_END=$(vm_end_reason)
    [ -n "$VM_END" ] || VM_END=gone
    return 0
}

vm_stop() {
    if vm_running; then
        kill "$VM_PID" 2>/dev/null
        local i
        for i in $(seq 30); do vm_running || break; sleep 0.1; done
        vm_running && kill -9 "$VM_PID" 2>/dev/null
        wait "$VM_PID" 2>/dev/null
    fi
    vm_boot_time
    return 0
}

vm_cleanup_all() {
    local rc=$? p
    vm_boot_time
    for p in "${VM_PIDS[@]}"; do
        kill "$p" 2>/dev/null && { sleep 0.2; kill -9 "$p" 2>/dev/null; }
    done
    if [ "$VM_OUT_OWNED" = yes ] && [ "${VM_KEEP:-0}" != 1 ]; then
        rm -rf "$VM_OUT"
    fi
    # A script that reported a failure fails, whatever it exits with.
    [ "$VM_FAILED" = 1 ] && [ "$rc" = 0 ] && rc=1
    exit "$rc"
}
trap vm_cleanup_all EXIT
# A runner's timeout sends TERM: exit through the EXIT trap, which kills QEMU.
trap 'exit 143' TERM INT HUP

vm_ok() { echo "ok - vm: $1"; }
vm_not_ok() {
    VM_FAILED=1
    echo "not ok - vm: $1${2:+: $2}"
    if [ -n "${VM_CONSOLE:-}" ] && [ -f "$VM_CONSOLE" ]; then
        echo "  --- last console lines of $VM_NAME:"
        tail -n 15 "$VM_CONSOLE" | tr -d '\r' | sed 's/^/  | /'
    fi
}
vm_skip() { echo "skip - vm: $1: $2"; }

vm_assert() {
    local name=$1 re=$2
    if grep -aqE -- "$re" "$VM_CONSOLE"; then vm_ok "$name"; else vm_not_ok "$name" "console lacks /$re/"; fi
}
vm_refute() {
    local name=$1 re=$2
    if grep -aqE -- "$re" "$VM_CONSOLE"; then
        vm_not_ok "$name" "console has /$re/: $(grep -aE -- "$re" "$VM_CONSOLE" | head -n 1 | tr -d '\r')"
    else
        vm_ok "$name"
    fi
}

# vm_assert_each NAME REGEX ITEM...: ok when the console matches REGEX with
# {} replaced by each ITEM in turn, else not ok naming the items missing.
# ITEMs must not hold '&' (bash 5.2's pattern substitution would expand it).
vm_assert_each() {
    local name=$1 re=$2 item missing=
    shift 2
    for item in "$@"; do
        grep -aqE -- "${re//\{\}/$item}" "$VM_CONSOLE" || missing="$missing $item"
    done
    if [ -z "$missing" ]; then vm_ok "$name"; else vm_not_ok "$name" "missing:$missing"; fi
}

# Line number of the first console line matching REGEX (0 when none): for
# asserting the order of events.
vm_line() {
    local n
    n=$(grep -anE -- "$1" "$VM_CONSOLE" | head -n 1 | cut -d: -f1)
    echo "${n:-0}"
}

# Busybox applet symlinks and a static busybox in DIR/bin (for tiny test images).
vm_busybox_into() {
    local dir=$1 bb
    bb=$(command -v busybox) || return 1
    mkdir -p "$dir/bin"
    cp "$bb" "$dir/bin/busybox"
    local a
    for a in sh mount echo cat sleep poweroff reboot halt ls grep; do
        ln -sf busybox "$dir/bin/$a"
    done
}

# vm_wait_ok NAME REGEX SECONDS [WHY]: waits for REGEX and reports NAME; the
# status is vm_wait's, for a caller that goes on only after a boot came up.
vm_wait_ok() {
    if vm_wait "$2" "$3"; then vm_ok "$1"; return 0; fi
    vm_not_ok "$1" "${4:-}"
    return 1
}

# vm_end_is NAME END: after vm_wait_end, ok when the guest ended as END
# (poweroff, reboot, halt, panic, timeout, gone).
vm_end_is() {
    if [ "$VM_END" = "$2" ]; then vm_ok "$1"; else vm_not_ok "$1" "ended: $VM_END"; fi
}

# --- set-up: a step that cannot be done fails the script at once ---------------------

# vm_fail NAME WHY: NAME is not ok and nothing after it can run.
vm_fail() {
    vm_not_ok "$1" "$2"
    exit 1
}

# vm_require_keel NAME: KEEL is the static release keel to put in the images
# (make vm passes build/keel).
vm_require_keel() {
    KEEL=${KEEL:-$VM_REPO/build/keel}
    [ -x "$KEEL" ] || vm_fail "$1" "no keel binary at $KEEL (make vm sets KEEL)"
}

# vm_require_test_keel NAME: KEEL is the test build, the only one with the
# kernel command-line test hooks (keel.test_*=, Makefile).
vm_require_test_keel() {
    KEEL=${KEEL_TEST:-$VM_REPO/build/test/keel}
    [ -x "$KEEL" ] || vm_fail "$1" "no test build of keel at $KEEL (make build/test/keel; make vm sets KEEL_TEST)"
}

# vm_require_tools NAME TOOL...: every TOOL is on PATH.
vm_require_tools() {
    local name=$1 t
    shift
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || vm_fail "$name" "$t is missing (make deps)"
    done
}

# vm_require_layers NAME: the host tests' busybox layer and probe, for images
# that carry a layer of their own (tests/tools/mklayers makes them).
vm_require_layers() {
    if [ ! -x "$VM_REPO/build/layers/base/bin/busybox" ] || [ ! -x "$VM_REPO/build/probe" ]; then
        vm_fail "$1" "no build/layers/base or build/probe (make probe; tests/tools/mklayers)"
    fi
}

# vm_payload NAME SRC OUT: a static test program for inside the guest.
vm_payload() {
    local log
    log=$VM_OUT/$(basename "$3").gcc.log
    local cc=gcc
    [ "$VM_ARCH" = arm64 ] && cc=aarch64-linux-gnu-gcc
    $cc -O2 -Wall -Wextra -Werror -static -o "$3" "$VM_REPO/$2" 2>"$log" ||
        vm_fail "$1" "cannot build $2: $(head -n 5 "$log")"
}

# vm_harness PREFIX SRC OUT: a static PID 1 built from SRC and keel's release
# objects (without main.o), for testing one module as PID 1; fails as
# "PREFIX: build" (no objects) or "PREFIX: build the harness".
vm_harness() {
    local objs=() o pkgs="libcap inih libseccomp" log
    log=$VM_OUT/$(basename "$3").gcc.log
    for o in "$VM_REPO"/build/obj/*.o; do
        [ -f "$o" ] && [ "${o##*/}" != main.o ] && objs+=("$o")
    done
    [ "${#objs[@]}" -gt 0 ] || vm_fail "$1: build" "no objects in build/obj (run make first)"
    # shellcheck disable=SC2046,SC2086
    gcc -O2 -std=gnu11 -D_GNU_SOURCE -I"$VM_REPO/include" $(pkg-config --cflags $pkgs) -static \
        -o "$3" "$VM_REPO/$2" "${objs[@]}" \
        $(make -C "$VM_REPO" --no-print-directory -s print-libs) 2>"$log" ||
        vm_fail "$1: build the harness" "$(head -n 5 "$log")"
}

# vm_image NAME MANIFEST EXTRA OUT [KEEL]: the test initramfs: KEEL (default
# $KEEL) as /init, MANIFEST, and the tree EXTRA ("" for none) copied over it.
vm_image() {
    local name=$1 manifest=$2 extra=$3 out=$4 keel=${5:-$KEEL}
    local log=$out.mk.log
    local args=(--keel "$keel" --manifest "$manifest" --out "$out")
    [ -n "$extra" ] && args+=(--extra "$extra")
    if [ "$VM_ARCH" = arm64 ]; then
        args+=(--sysroot "$VM_SYSROOT" --layers "$VM_REPO/build/arm64/layers")
        export BUSYBOX=$VM_SYSROOT/bin/busybox
    fi
    "$VM_REPO/initramfs/mkinitramfs" "${args[@]}" 2>"$log" ||
        vm_fail "$name" "$(tail -n 5 "$log")"
}
