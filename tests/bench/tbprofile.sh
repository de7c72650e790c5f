#!/bin/bash
# tbprofile.sh [keel_equal|keel|floor|floor_iso] — where a boot's real TCG time goes:
# boots one of tests/bench/boot.sh's images (build/bench/boot/NAME.cpio: run
# boot.sh first) under QEMU with -icount and -d in_asm,nochain, stops the
# guest once the container runs, and prints tests/bench/tbprofile.py's table:
# the code blocks QEMU translated for the guest (kernel and user) in each
# phase of the boot, from /init's first instruction to the container
# command's.  Translation, not instructions, is most of a TCG boot's real
# time, and the count is deterministic (docs/performance.md, "Seventh
# session").  keel's phases need build/keel.debug of the keel in the image.
set -u
here=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$here/../.." && pwd)
cd "$REPO" || exit 1
# shellcheck source=tests/vm/lib.sh
. tests/vm/lib.sh
name=${1:-keel_equal}
img=$REPO/build/bench/boot/$name.cpio
[ -f "$img" ] || { echo "tbprofile: no $img: run tests/bench/boot.sh first" >&2; exit 1; }
if [ "$name" = floor ]; then
    debug=$REPO/build/bench/bin/floor-init marks=main pat='floor: exec'
elif [ "$name" = floor_iso ]; then
    # The isolated floor's phases (floor-init.c, floor-iso.c), comparable to keel's.
    debug=$REPO/build/bench/bin/floor-init pat='floor: exec'
    marks=main,lo_up,container_cgroup,start_isolated,isolated_child,iso_session,iso_stage,iso_root,iso_process,seccomp_install
else
    debug=$REPO/build/keel.debug marks="" pat=' keel: [^ ]+: started, pid '
fi
log=$REPO/build/bench/boot/$name.in_asm
VM_ACCEL="tcg -icount shift=0,sleep=off" vm_start "tb-$name" "$img" "" -- -d in_asm,nochain -D "$log" || exit 1
deadline=$((SECONDS + 120))
until grep -qE "$pat" "$VM_CONSOLE" 2>/dev/null; do
    if ! vm_running || [ $SECONDS -ge $deadline ]; then
        tail -n 20 "$VM_CONSOLE" >&2
        vm_stop
        exit 1
    fi
    sleep 0.05
done
vm_stop
python3 "$here/tbprofile.py" "$log" "$debug" "$marks" "$REPO/build/layers/base/bin/busybox"
status=$?
rm -f "$log"
exit $status
