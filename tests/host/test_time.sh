#!/bin/bash
# test_time.sh — issue 16's time keys under `keel run` on a host: `ntp` and
# `clock_file` are boot-mode keys, and keel run must never touch the host's
# clock (the host has its own time daemon).  What boot mode does with them is
# tests/vm/test_time.sh's (a guest, against chronyd).
#
# A safety belt: keel runs here without CAP_SYS_TIME in its bounding set, so
# even a keel that wrongly tried could not move this shared machine's clock;
# the assertions are on effects that do not need the capability (the clock
# file's bytes after a stop, a container waiting for `clock`).
. "$(dirname "$0")/lib.sh"

# keel_start_no_sys_time [MANIFEST]: lib.sh's keel_start, with keel exec'd
# through setpriv without CAP_SYS_TIME (keel_pid still finds "$KEEL run").
keel_start_no_sys_time() {
    local m=${1:-$T/keel.ini}
    : > "$OUT"
    : > "$ERR"
    rm -f "$T/leftover"
    KRC=""
    env --default-signal \
    unshare --pid --mount --uts --ipc --net --fork --kill-child --mount-proc \
        --propagation private \
        "$HOST_DIR/nsinit" "$T/leftover" setpriv --bounding-set -sys_time "$KEEL" run "$m" > "$OUT" 2> "$ERR" &
    KPID=$!
    NSINIT=""
}

# files_same A B: byte-identical files.
files_same() {
    cmp -s "$1" "$2" && return 0
    WHY="$(basename "$1") is now '$(head -c 40 "$1" 2>/dev/null)', was '$(head -c 40 "$2")'"
    return 1
}

# keel run with ntp (no server answers: none listens in keel's namespace) and
# a clock file ten years ahead: the container that waits for the clock starts
# at once (no client would ever set the condition), the clock file is neither
# restored (the host's clock stays) nor rewritten at the stop.  A keel that ran
# its boot-mode time code here holds `timed` back (no server) and rewrites
# the file at the stop.
test_run_mode_leaves_clock() {
    plan clock_run_no_sys_time clock_run_depends clock_run_host_clock clock_run_file
    local future=$(( $(date +%s) + 10 * 365 * 86400 ))
    echo "$future" > "$T/clock"
    cp "$T/clock" "$T/clock.orig"
    manifest <<EOF
$(system_section)
ntp = 127.0.0.1
clock_file = $T/clock

[container timed]
layers = $LAYERS/base
command = /bin/probe print timed-ran sleep inf
restart = no
depends = clock
EOF
    keel_start_no_sys_time
    require "keel did not start ($WHY)" wait_klog 'stage: ready to start containers' 20
    local k capbnd
    k=$(keel_pid)
    capbnd=$(awk '$1 == "CapBnd:" { print $2 }' "/proc/$k/status" 2>/dev/null)
    # CAP_SYS_TIME is bit 25: the belt is on (the positive control that the
    # clock checks below do not rely on luck).
    check clock_run_no_sys_time "keel still has CAP_SYS_TIME in its bounding set ($capbnd)" \
        eval '[ -n "$capbnd" ] && [ $(( 0x$capbnd >> 25 & 1 )) = 0 ]'
    wait_out timed timed-ran 20
    check clock_run_depends "depends = clock held the container under keel run" out_has timed timed-ran
    check clock_run_host_clock "the host's clock moved to the clock file's time" le "$(date +%s)" $((future - 86400))
    keel_stop || fail "keel did not stop ($WHY)"
    check clock_run_file "keel run rewrote the clock file at its stop" files_same "$T/clock" "$T/clock.orig"
}

run_tests "$@"
