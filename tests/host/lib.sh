# lib.sh — the harness of keel's host integration tests.  Sourced by
# tests/host/test_*.sh; see tests/host/README.md for how to write a test.
#
# A test file defines functions named test_NAME and ends with `run_tests "$@"`.
# run_tests runs each function in a process of its own under `timeout`, with a
# fresh scratch directory $T, so a test that hangs is killed and reported, and
# nothing it starts outlives it.  Each test prints TAP-like result lines:
#     ok - host: NAME
#     not ok - host: NAME: why
#     #   diagnostic lines (keel's log tails)
# A function reports one result under its own name, or several named results
# when it first declares them with `plan A B C` (one keel run, several
# assertions: process spawns are not free).
#
# keel under test: $KEEL (default build/keel); KEEL_ASAN=1 says it is the
# ASan+UBSan build: timeouts stretch and every test also fails on a sanitizer
# report.  Every keel run happens inside fresh PID, mount, UTS, IPC and network
# namespaces (tests/host/nsinit) with a private /run, so it never touches the
# host; its stdout goes to $OUT (container lines "NAME | line") and its stderr
# to $ERR (keel's own "[   t] keel: ..." lines).
#
# The helpers only poll (wait_for and friends); a fixed sleep is never an
# assertion.

set -u

HOST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HOST_DIR/../.." && pwd)
KEEL=${KEEL:-$REPO/build/keel}
KEEL_BIN=$KEEL   # the binary under test, for a wrapper that takes KEEL's place (keel_rd)
KEEL_ASAN=${KEEL_ASAN:-0}
LAYERS=${LAYERS:-$REPO/build/layers}
PROBE=${PROBE:-$REPO/build/probe}
# Sanitized builds are slower: every timeout is multiplied by SLOW.
if [ "$KEEL_ASAN" = 1 ]; then SLOW=${SLOW:-3}; else SLOW=${SLOW:-1}; fi
TEST_TIMEOUT=${TEST_TIMEOUT:-60}     # seconds per test function (times SLOW)
WAIT=${WAIT:-10}                     # default wait_for timeout (times SLOW)

# Default capability set: Docker's minus NET_RAW and MKNOD.  CHOWN 0,
# DAC_OVERRIDE 1, FOWNER 3, FSETID 4, KILL 5, SETGID 6, SETUID 7, SETPCAP 8,
# NET_BIND_SERVICE 10, SYS_CHROOT 18, AUDIT_WRITE 29, SETFCAP 31.
caps_mask() {
    local m=0 b
    for b in "$@"; do m=$((m | (1 << b))); done
    printf '%016x' "$m"
}
CAPS_DEFAULT=$(caps_mask 0 1 3 4 5 6 7 8 10 18 29 31)   # 00000000a00405fb

# ---- results -------------------------------------------------------------------

_PLAN=()          # result names declared by plan
_DONE=()          # result names already reported
_FAILED=0
_TEST=""          # the running test function, without test_

plan() { _PLAN=("$@"); }

_reported() {
    local n
    for n in "${_DONE[@]}"; do [ "$n" = "$1" ] && return 0; done
    return 1
}

# Diagnostics after a failure: tails of keel's output and the manifest.
diagnose() {
    local f
    for f in "$ERR" "$OUT" "${CHECK_ERR:-}"; do
        [ -n "$f" ] && [ -s "$f" ] || continue
        echo "#   --- ${f#"$T"/} (last 15 lines)"
        tail -n 15 "$f" | sed 's/^/#   /'
    done
    if [ -n "${KRC:-}" ]; then echo "#   keel exit status: $KRC"; fi
    if [ -s "$T/leftover" ]; then
        echo "#   --- processes left in the namespace after keel exited"
        head -n 10 "$T/leftover" | sed 's/^/#   /'
    fi
}

# ok NAME / not_ok NAME WHY: report one result.
ok() {
    _DONE+=("$1")
    echo "ok - host: $1"
}
not_ok() {
    _DONE+=("$1")
    _FAILED=1
    echo "not ok - host: $1: $2"
}

# Diagnostics are printed once per test, after its results.
_DIAGNOSED=0
_diagnose_once() {
    [ "$_FAILED" = 1 ] && [ "$_DIAGNOSED" = 0 ] || return 0
    _DIAGNOSED=1
    diagnose
}

# check NAME DESCRIPTION COMMAND [ARG]...: runs COMMAND; reports NAME ok when
# it succeeds, else not ok with DESCRIPTION and $WHY (set by the predicates
# below to say what was seen).
WHY=""
check() {
    local name=$1 desc=$2
    shift 2
    WHY=""
    if "$@"; then
        ok "$name"
    else
        not_ok "$name" "$desc${WHY:+ ($WHY)}"
    fi
}

# fail MESSAGE: a fatal failure; every declared result not yet reported (or
# the test itself, without a plan or when all were reported) is reported not
# ok with MESSAGE, and the test ends.
fail() {
    local n any=0
    for n in "${_PLAN[@]}"; do
        _reported "$n" || { not_ok "$n" "$1"; any=1; }
    done
    [ "$any" = 0 ] && not_ok "$_TEST" "$1"
    _sanitizer_check
    _diagnose_once
    exit 1
}

# require COMMAND [ARG]... — fail with $WHY unless COMMAND succeeds.
require() {
    local desc=$1
    shift
    WHY=""
    "$@" || fail "$desc${WHY:+ ($WHY)}"
}

# ---- predicates for check/require (they set WHY) ---------------------------------

eq() {
    [ "$1" = "$2" ] && return 0
    WHY="got '$1', expected '$2'"
    return 1
}
ne() {
    [ "$1" != "$2" ] && return 0
    WHY="got '$1', which it must not be"
    return 1
}
# le A B / ge A B: integer comparisons.
le() { [ "$1" -le "$2" ] 2>/dev/null && return 0; WHY="$1 > $2"; return 1; }
ge() { [ "$1" -ge "$2" ] 2>/dev/null && return 0; WHY="$1 < $2"; return 1; }
# one_of VALUE CHOICE... (VALUE equal to one of the choices)
one_of() {
    local v=$1 c
    shift
    for c in "$@"; do [ "$v" = "$c" ] && return 0; done
    WHY="got '$v', expected one of: $*"
    return 1
}
# contains LIST ITEM: ITEM is one element of comma-separated LIST.
contains() {
    case ",$1," in *",$2,"*) return 0 ;; esac
    WHY="'$2' not in '$1'"
    return 1
}
# grep_in ERE FILE / no_grep_in ERE FILE
grep_in() {
    grep -qE -- "$1" "$2" 2>/dev/null && return 0
    WHY="no line matching /$1/ in ${2#"$T"/}"
    return 1
}
no_grep_in() {
    local hit
    hit=$(grep -E -m1 -- "$1" "$2" 2>/dev/null) || return 0
    WHY="found: $hit"
    return 1
}
# float_ge A B: A >= B for decimals.
float_ge() {
    awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }' && return 0
    WHY="$1 < $2"
    return 1
}
float_le() {
    awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }' && return 0
    WHY="$1 > $2"
    return 1
}

# ---- manifests -------------------------------------------------------------------

# manifest [FILE] < TEXT: writes a manifest (default $T/keel.ini).
manifest() {
    cat > "${1:-$T/keel.ini}"
}

# A [system] section for tests: logs under $T/log, short stop timeout.
system_section() {
    printf '[system]\nlog_dir = %s\nstop_timeout = %s\n' "$T/log" "${1:-2}"
}

# mk_layer NAME: an empty layer directory $T/layers/NAME (printed).
mk_layer() {
    mkdir -p "$T/layers/$1"
    echo "$T/layers/$1"
}

# ---- keel check ------------------------------------------------------------------

# keel_check [ARG]... MANIFEST: runs `keel check`; sets CRC, CHECK_OUT, CHECK_ERR.
keel_check() {
    CHECK_OUT=$T/check.out
    CHECK_ERR=$T/check.err
    timeout -k 2 $((10 * SLOW)) "$KEEL" check "$@" > "$CHECK_OUT" 2> "$CHECK_ERR"
    CRC=$?
    if [ "$CRC" = 124 ] || [ "$CRC" = 137 ]; then
        fail "keel check $* did not finish within $((10 * SLOW)) s"
    fi
    return 0
}

# ---- keel run --------------------------------------------------------------------

KPID=""      # the unshare process
NSINIT=""    # PID 1 of the test's namespaces (host pid)
KRC=""       # keel's exit status once it has exited

# keel_start [MANIFEST]: starts `keel run MANIFEST` in the background inside
# fresh namespaces.  Returns at once; use wait_for to see it come up.
# KEEL_WRAP (optional): a command nsinit runs with "$KEEL run MANIFEST" as
# its arguments; it must exec them (keel_pid looks for nsinit's child).
keel_start() {
    local m=${1:-$T/keel.ini}
    : > "$OUT"
    : > "$ERR"
    rm -f "$T/leftover" "$T/leftover.run"
    KRC=""
    # env --default-signal: an asynchronous command of a non-interactive shell
    # starts with SIGINT and SIGQUIT ignored; keel must get default
    # dispositions (plus the ones a test asks to be ignored in KEEL_IGNORE,
    # a comma-separated list, to check that keel resets them for containers).
    # --kill-child: if unshare dies (the test timed out), the namespace dies.
    env --default-signal ${KEEL_IGNORE:+--ignore-signal="$KEEL_IGNORE"} \
    unshare --pid --mount --uts --ipc --net --fork --kill-child --mount-proc \
        --propagation private \
        "$HOST_DIR/nsinit" "$T/leftover" ${KEEL_WRAP:-} "$KEEL" run "$m" > "$OUT" 2> "$ERR" &
    KPID=$!
    NSINIT=""
}

# keel_rd DIR: writes $T/keel-rd, `keel run --run-dir DIR` of the keel under
# test run under the wrapper's own name, the one tests look keel up by
# ("$KEEL run ": keel_pid); the test then sets `local KEEL="$T/keel-rd"`.
# Called again, it points the same wrapper at another DIR.
keel_rd() {
    printf '#!/bin/bash\nshift\nexec -a "$0" %s run --run-dir %s "$@"\n' "$KEEL_BIN" "$1" > "$T/keel-rd"
    chmod +x "$T/keel-rd"
}

# children PID: the pids of PID's children.
children() {
    cat /proc/"$1"/task/*/children 2>/dev/null
}

# nsinit_pid / keel_pid: host pids of the namespace's PID 1 and of keel
# (printed; empty when not (yet) there).
nsinit_pid() {
    if [ -z "$NSINIT" ] && [ -n "$KPID" ]; then
        NSINIT=$(children "$KPID" | awk '{ print $1 }')
    fi
    echo "$NSINIT"
}
keel_pid() {
    local s p
    s=$(nsinit_pid)
    [ -n "$s" ] || return 0
    # nsinit's child running "$KEEL run" (not the mount or ip it runs first).
    for p in $(children "$s"); do
        tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$KEEL run " && { echo "$p"; return 0; }
    done
}

# The test namespace's own /proc, seen from outside: /proc/PID of a process
# there is NSPROC/PID, where PID is what keel prints.
nsproc() {
    local s
    s=$(nsinit_pid)
    [ -n "$s" ] && echo "/proc/$s/root/proc"
}

keel_running() {
    [ -n "$KPID" ] && kill -0 "$KPID" 2>/dev/null
}

# keel_wait [TIMEOUT]: waits for keel to exit; sets KRC.  Returns 1 on timeout.
keel_wait() {
    local limit=$(( ${1:-$WAIT} * SLOW * 20 )) i=0
    [ -n "$KPID" ] || return 0
    while kill -0 "$KPID" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -ge "$limit" ] && return 1
        sleep 0.05
    done
    wait "$KPID" 2>/dev/null
    KRC=$?
    KPID=""
    return 0
}

# keel_signal SIGNAL: sends SIGNAL to keel.
keel_signal() {
    local k i=0
    while k=$(keel_pid); [ -z "$k" ]; do
        keel_running || { WHY="keel is not running"; return 1; }
        i=$((i + 1)); [ "$i" -ge 100 ] && { WHY="cannot find keel's pid"; return 1; }
        sleep 0.05
    done
    kill -s "$1" "$k"
}

# keel_stop [TIMEOUT]: SIGTERM to keel, then wait for it to exit (KRC).
# Returns 1 when it did not exit in time.
keel_stop() {
    keel_running || { keel_wait 1; return 0; }
    # keel may exit by itself between the check and the signal: that is a stop too.
    keel_signal TERM || { keel_running && return 1; keel_wait 1; return 0; }
    keel_wait "${1:-$WAIT}" || { WHY="keel did not exit within ${1:-$WAIT} s of SIGTERM"; return 1; }
}

# keel_kill: SIGKILL to the whole namespace (cleanup).
keel_kill() {
    local s
    [ -n "$KPID" ] || return 0
    s=$(nsinit_pid)
    [ -n "$s" ] && kill -KILL "$s" 2>/dev/null
    kill -KILL "$KPID" 2>/dev/null
    wait "$KPID" 2>/dev/null
    KPID=""
}

# ---- waiting -------------------------------------------------------------------

# wait_for ERE FILE [TIMEOUT]: polls until a line of FILE matches ERE.
# Returns 1 (with WHY) on timeout, or as soon as keel has exited without
# the line appearing.
wait_for() {
    local re=$1 file=$2 limit=$(( ${3:-$WAIT} * SLOW * 20 )) i=0
    while :; do
        grep -qE -- "$re" "$file" 2>/dev/null && return 0
        if [ -n "$KPID" ] && ! kill -0 "$KPID" 2>/dev/null; then
            grep -qE -- "$re" "$file" 2>/dev/null && return 0
            keel_wait 1
            WHY="keel exited (status $KRC) before /$re/ appeared in ${file#"$T"/}"
            return 1
        fi
        i=$((i + 1))
        if [ "$i" -ge "$limit" ]; then
            WHY="no /$re/ in ${file#"$T"/} within $(( ${3:-$WAIT} * SLOW )) s"
            return 1
        fi
        sleep 0.05
    done
}

# wait_until TIMEOUT COMMAND [ARG]...: polls COMMAND until it succeeds, for
# at most TIMEOUT seconds (an integer, times SLOW) of wall time, however long
# COMMAND itself takes (one that asks keel ps may take seconds); COMMAND is
# tried at least once.  Returns 1 when the time is up.
wait_until() {
    local end=$(( ${EPOCHREALTIME/./} + $1 * SLOW * 1000000 ))
    shift
    until "$@"; do
        [ "${EPOCHREALTIME/./}" -ge "$end" ] && return 1
        sleep 0.05
    done
}

# ---- reading keel's output -------------------------------------------------------

# re_quote STRING: STRING as an ERE matching itself.
re_quote() {
    printf '%s' "$1" | sed 's/[][\.|$(){}?+*^]/\\&/g'
}

# klog MESSAGE-ERE: ERE for a keel message line, e.g. klog 'db: started'.
klog() { echo "^\[ *[0-9]+\.[0-9]+\] keel: $1"; }

# wait_klog MESSAGE-ERE [TIMEOUT]: waits for keel to log MESSAGE.
wait_klog() { wait_for "$(klog "$1")" "$ERR" "${2:-$WAIT}"; }

# c_lines NAME: the output lines of container NAME (keel's "NAME | " echo,
# prefix removed; padding after the name is tolerated).
c_lines() {
    sed -nE "s/^$1[[:space:]]*\| ?//p" "$OUT"
}

# wait_out NAME LINE [TIMEOUT]: waits for container NAME to print LINE exactly.
wait_out() {
    wait_for "^$1[[:space:]]*\| ?$(re_quote "$2")\$" "$OUT" "${3:-$WAIT}"
}
# wait_key NAME KEY [TIMEOUT]: waits for container NAME to print KEY=...
wait_key() {
    wait_for "^$1[[:space:]]*\| ?$(re_quote "$2")=" "$OUT" "${3:-$WAIT}"
}

# c_value NAME KEY: the value of the last "KEY=VALUE" line of container NAME.
c_value() {
    c_lines "$1" | awk -v k="$2=" 'index($0, k) == 1 { v = substr($0, length(k) + 1) } END { print v }'
}

# out_has NAME LINE: container NAME printed LINE (exactly).
out_has() {
    c_lines "$1" | grep -qxF -- "$2" && return 0
    WHY="container $1 never printed '$2'"
    return 1
}

# started_pid NAME: the pid of the last "NAME: started, pid P" message.
started_pid() {
    sed -nE "s/$(klog "$1: started, pid ([0-9]+)")/\1/p" "$ERR" | tail -n 1
}

# klog_times MESSAGE-ERE: the timestamps (seconds) of matching keel lines.
klog_times() {
    grep -E -- "$(klog "$1")" "$ERR" | sed -E 's/^\[ *([0-9]+\.[0-9]+)\].*/\1/'
}

# klog_count MESSAGE-ERE: how many keel lines match.
klog_count() {
    grep -cE -- "$(klog "$1")" "$ERR"
}

# line_no ERE FILE: line number of the first match (0 if none).
line_no() {
    local n
    n=$(grep -nE -m1 -- "$1" "$2" | cut -d: -f1)
    echo "${n:-0}"
}

# before ERE1 ERE2 FILE: the first line matching ERE1 comes before the first
# line matching ERE2 (both present).
before() {
    local a b
    a=$(line_no "$1" "$3"); b=$(line_no "$2" "$3")
    if [ "$a" = 0 ] || [ "$b" = 0 ]; then
        WHY="missing: $([ "$a" = 0 ] && echo "/$1/ ")$([ "$b" = 0 ] && echo "/$2/")"
        return 1
    fi
    [ "$a" -lt "$b" ] && return 0
    WHY="/$2/ (line $b) came before /$1/ (line $a)"
    return 1
}

# ---- processes seen from outside -------------------------------------------------

# ns_zombies: zombie processes in the test's PID namespace (and the
# containers' nested ones), from the namespace's own /proc, one "PID COMM" a line.
ns_zombies() {
    local p stat procdir
    procdir=$(nsproc) || return 0
    [ -n "$procdir" ] || return 0
    for p in "$procdir"/[0-9]*; do
        read -r stat < "$p/stat" 2>/dev/null || continue
        case ${stat##*) } in Z*) echo "${p##*/} $(cut -d' ' -f2 <<< "$stat")" ;; esac
    done
}

# no_zombies: predicate, true when ns_zombies is empty.
no_zombies() {
    local z
    z=$(ns_zombies)
    [ -z "$z" ] && return 0
    WHY="$(wc -l <<< "$z") zombies, e.g. $(head -n 3 <<< "$z" | tr '\n' ' ')"
    return 1
}

# no_lasting_zombies [SECONDS]: predicate for a namespace where containers
# keep restarting, so a process may be a zombie for the instant between its
# exit and keel's reap: true when every zombie seen now is gone (reaped)
# within SECONDS (default 5, times SLOW); a zombie keel never reaps stays.
no_lasting_zombies() {
    local z first left i
    first=$(ns_zombies)
    [ -z "$first" ] && return 0
    for ((i = 0; i < ${1:-5} * SLOW * 10; i++)); do
        z=$(ns_zombies)
        left=$(grep -Fxf <(printf '%s\n' "$first") <<< "$z")
        [ -z "$left" ] && return 0
        sleep 0.1
    done
    WHY="$(wc -l <<< "$left") zombies never reaped, e.g. $(head -n 3 <<< "$left" | tr '\n' ' ')"
    return 1
}

# ns_status PID KEY: a field of /proc/PID/status of a process of the test
# namespace (PID as keel prints it).
ns_status() {
    awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$(nsproc)/$1/status" 2>/dev/null
}

# ---- a FUSE file system that stops answering -------------------------------------

# A FUSE file system served by the probe (fuse-hang) over $T/fuse/d (a
# plain directory while keel checks its manifest), whose server reads the
# next request after SIGUSR1 and answers it only at SIGUSR2: the process
# walking a path there sleeps uninterruptibly, and SIGKILL ends it only once
# the server answers, as on a hung NFS server.  Mounted in keel's mount
# namespace only (keel running; the children it clones from then on see it):
# the host never has it, and it goes with the namespace however the test
# ends.  `fuse_start host` mounts it on the host instead, before keel starts
# (keel's namespace gets a copy of the mount), and fuse_stop unmounts it.
# fuse_stop (run at the test's exit, whatever its path) aborts the
# connection (/sys/fs/fuse/connections/N/abort, fusectl mounted in a mount
# namespace of its own): whatever still waits on the mount gets an error.
FUSE_PID=""
FUSE_CONN=""
FUSE_HOST=""
fuse_start() {
    local n why="" mi
    trap 'fuse_stop; _cleanup' EXIT
    : > "$T/fuse.out"
    if [ "${1:-}" = host ]; then
        FUSE_HOST=$T/fuse/d
        "$PROBE" fuse-hang "$T/fuse/d" > "$T/fuse.out" 2>&1 &
        mi=/proc/self/mountinfo
    else
        nsenter --mount="/proc/$(nsinit_pid)/ns/mnt" "$PROBE" fuse-hang "$T/fuse/d" > "$T/fuse.out" 2>&1 &
        mi=/proc/$(keel_pid)/mountinfo
    fi
    FUSE_PID=$!
    wait_until 10 grep -q '^fuse=' "$T/fuse.out" || fail "the FUSE server did not start: $(cat "$T/fuse.out")"
    # No FUSE in this kernel (opening /dev/fuse loads the module if there is one).
    grep -qE '^fuse=(ENOENT|ENODEV|ENXIO)$' "$T/fuse.out" && why="no FUSE here ($(head -n 1 "$T/fuse.out"))"
    if [ -n "$why" ]; then
        for n in "${_PLAN[@]}"; do
            _DONE+=("$n")
            echo "skip - host: $n: $why"
        done
        exit 0
    fi
    grep -q '^fuse=mounted$' "$T/fuse.out" || fail "the FUSE server did not mount: $(cat "$T/fuse.out")"
    # The connection's number is the minor of the mount's (anonymous) device.
    FUSE_CONN=$(awk -v m="$T/fuse/d" '$5 == m { split($3, d, ":"); print d[2] }' "$mi")
    [ -n "$FUSE_HOST" ] || [ -d "/proc/$(keel_pid)/root$T/fuse/d/d" ] ||
        fail "the FUSE server does not serve $T/fuse/d/d in keel's namespace: $(cat "$T/fuse.out")"
}
fuse_stop() {
    [ -n "$FUSE_PID" ] || return 0
    if [ -n "$FUSE_CONN" ]; then
        unshare --mount sh -c 'mount -t fusectl fusectl /sys/fs/fuse/connections &&
            echo 1 > "/sys/fs/fuse/connections/$0/abort"' "$FUSE_CONN" 2>/dev/null
    fi
    kill "$FUSE_PID" 2>/dev/null
    [ -z "$FUSE_HOST" ] || umount -l "$FUSE_HOST" 2>/dev/null
    FUSE_PID=""
    FUSE_CONN=""
    FUSE_HOST=""
}
fuse_held() { grep -c '^fuse.held=' "$T/fuse.out"; }

# host_pid NSPID: the host pid of keel's child NSPID (as keel prints it).
host_pid() {
    local k
    for k in $(children "$(keel_pid)"); do
        [ "$(awk '$1 == "NSpid:" { print $3 }' "/proc/$k/status" 2>/dev/null)" = "$1" ] && { echo "$k"; return 0; }
    done
}

# hung PID: PID (of the test namespace) is there, SIGKILLed, in uninterruptible sleep.
hung() {
    local st pnd
    st=$(ns_status "$1" State)
    pnd=$(ns_status "$1" ShdPnd)
    [ "${st%% *}" = D ] && [ $((0x${pnd:-0} & 0x100)) != 0 ] && return 0
    WHY="process $1: state '${st:-gone}', shared pending signals ${pnd:-none}"
    return 1
}

# ---- sanitizers ---------------------------------------------------------------

# After each test of the ASan build: any report fails the test.
_sanitizer_check() {
    [ "$KEEL_ASAN" = 1 ] || return 0
    local f hits=""
    for f in "$ERR" "${CHECK_ERR:-}" "$T"/asan.*; do
        [ -f "$f" ] || continue
        if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|Undefined|Leak)' "$f"; then
            hits="$hits ${f#"$T"/}"
        fi
    done
    [ -z "$hits" ] && return 0
    not_ok "${_TEST}_sanitizer" "sanitizer report in$hits"
    for f in "$T"/asan.*; do [ -f "$f" ] && head -n 30 "$f" | sed 's/^/#   /'; done
    return 1
}

# ---- the runner --------------------------------------------------------------------

_cleanup() {
    keel_kill
    if [ "${KEEP:-0}" != 1 ]; then
        rm -rf "$T"
    else
        echo "#   kept $T"
    fi
}

_timed_out() {
    trap - TERM INT
    fail "timed out after $((TEST_TIMEOUT * SLOW)) s"
}

# _run_one NAME: runs test_NAME in this process (called under timeout).
_run_one() {
    _TEST=$1
    T=$(mktemp -d "${TMPDIR:-/tmp}/keel-host.XXXXXX") || { echo "not ok - host: $_TEST: cannot mktemp"; exit 1; }
    chmod 0755 "$T"
    OUT=$T/out
    ERR=$T/err
    : > "$OUT"; : > "$ERR"
    mkdir -p "$T/log"
    export ASAN_OPTIONS="log_path=$T/asan:detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$T/asan:${UBSAN_OPTIONS:-}"
    trap _cleanup EXIT
    trap '_timed_out' TERM INT
    if [ "$(id -u)" != 0 ]; then
        fail "the host tests need root"
    fi
    if [ ! -x "$KEEL" ]; then
        fail "keel binary not found at $KEEL (build it with make)"
    fi
    if [ ! -x "$LAYERS/base/bin/probe" ]; then
        fail "test layers missing in $LAYERS (run tests/tools/mklayers)"
    fi
    "test_$_TEST"
    # Tear down whatever the test left running before judging it.
    if keel_running; then keel_stop 5 >/dev/null 2>&1 || keel_kill; fi
    _sanitizer_check
    local n
    for n in "${_PLAN[@]}"; do
        _reported "$n" || not_ok "$n" "result never reported (a bug in the test)"
    done
    if [ "${#_PLAN[@]}" = 0 ] && ! _reported "$_TEST"; then
        ok "$_TEST"
    fi
    _diagnose_once
    exit "$_FAILED"
}

# _list: the test functions of the calling file, in the order they are defined.
_list() {
    sed -nE 's/^test_([A-Za-z0-9_]+)\(\).*/\1/p' "$0"
}

# run_tests [NAME]...: runs the named tests (default: all of the file; the
# environment variable HOST_TESTS, an ERE, filters the names).
run_tests() {
    if [ "${1:-}" = --one ]; then
        _run_one "$2"
    fi
    local names=("$@") name rc status=0 limit res t0
    [ "${#names[@]}" = 0 ] && mapfile -t names < <(_list)
    for name in "${names[@]}"; do
        if [ -n "${HOST_TESTS:-}" ] && ! grep -qE -- "$HOST_TESTS" <<< "$name"; then
            continue
        fi
        limit=$((TEST_TIMEOUT * SLOW))
        res=$(mktemp)
        t0=${EPOCHREALTIME/./}
        timeout -k 5 "$limit" bash "$0" --one "$name" | tee "$res"
        rc=${PIPESTATUS[0]}
        # Wall time of each test function (ms) in the log: where the minutes go.
        echo "# time: $name $(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms"
        if [ "$rc" != 0 ]; then
            status=1
            # Killed before it could say so itself.
            grep -q '^not ok - ' "$res" ||
                echo "not ok - host: $name: exited with status $rc$( { [ "$rc" = 124 ] || [ "$rc" = 137 ]; } && echo " (timed out after $limit s)")"
        fi
        rm -f "$res"
    done
    return $status
}
