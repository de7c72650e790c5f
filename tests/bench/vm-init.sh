#!/bin/sh
# vm-init.sh — /init of the VM bench image (tests/bench/vmbench.sh builds the
# image; read its header for the figures).  A busybox shell script, PID 1 of
# the TCG guest: leaves the kernel's rootfs as keel's boot does (pivot_root,
# which crun and keel's containers use, refuses rootfs), mounts what keel's
# boot mounts, cgroup2 with every controller offered at the root, then runs
# the rounds and prints "VMBENCH sample|warm NAME NS" per run, "VMBENCH done"
# at the end or "VMBENCH error WHAT" on a failure, and powers off.
export PATH=/usr/bin:/bin
if [ "${1:-}" != inside ]; then
    mount -o bind / /newroot && cd /newroot && mount -o move . / && exec chroot . /init inside
    echo "VMBENCH error cannot move off rootfs"
    exec sleep 1000000
fi

fail() {
    echo "VMBENCH error $*"
    poweroff -f
    exec sleep 1000000
}
mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"
mount -t devtmpfs devtmpfs /dev || fail "mount /dev"
mount -t tmpfs -o mode=0755 tmpfs /run || fail "mount /run"
mount -t tmpfs tmpfs /tmp || fail "mount /tmp"
mount -t cgroup2 cgroup2 /sys/fs/cgroup || fail "mount cgroup2"
# keel enables them too (cgroup.c enable_controllers); crun needs them there.
echo "+cpu +memory +pids" > /sys/fs/cgroup/cgroup.subtree_control || fail "enable the cgroup controllers"
insmod "$(cat /bench/overlay.path)" || fail "load overlay.ko"
mkdir -p /run/bench/log /run/bench/floor /run/peer /bench/rootfs || fail "mkdir"
# The peers' root: an overlay of the same layers with a tmpfs upper, mounted once.
mount -t tmpfs tmpfs /run/peer && mkdir /run/peer/upper /run/peer/work &&
    mount -t overlay overlay -o lowerdir=/layers/over:/layers/base,upperdir=/run/peer/upper,workdir=/run/peer/work \
        /bench/rootfs || fail "mount the peers' overlay"
# keel without cgroups: a mount namespace where cgroup2 is not mounted.
unshare -m --propagation private sh -c 'umount /sys/fs/cgroup && : > /run/bench/nocg.ready && exec sleep 1000000' &
holder=$!
n=0
while [ ! -e /run/bench/nocg.ready ]; do
    n=$((n + 1))
    [ $n -lt 200 ] || fail "the no-cgroup mount namespace"
    sleep 0.05
done
mkfifo /run/bench/never || fail "mkfifo"
# nap SECONDS: sleep in the shell itself (no process competes with what runs):
# busybox ash's read -t takes fractions; nothing ever writes the FIFO.
# shellcheck disable=SC3045
nap() { read -t "$1" _ <> /run/bench/never; }
. /bench/rounds

# one KIND NAME STOPWATCH-ARGS...: one start-to-exit run.
one() {
    kind=$1 name=$2
    shift 2
    ns=$(/bench/stopwatch --log "/run/bench/$name.log" "$@") ||
        fail "$name: $(tail -n 3 "/run/bench/$name.log" | tr '\n' ' ')"
    echo "VMBENCH $kind $name $ns"
}
# The limits are there (the same container reads them once on each side).
/bin/keel run /bench/cgcheck.ini 2>&1 | sed -n 's/^.*c | /VMBENCH check keel /p'
crun run --bundle /bench/bundle-cgcheck check 2>&1 | sed 's/^/VMBENCH check crun /'
echo "VMBENCH begin $WARMUP warm-up + $RUNS rounds"
i=0
while [ $i -lt $((WARMUP + RUNS)) ]; do
    kind=sample
    [ $i -lt "$WARMUP" ] && kind=warm
    one $kind keel_cg -- /bin/keel run /bench/cg.ini
    one $kind crun_cg -- crun run --bundle /bench/bundle-cg cg$i
    one $kind keel_nocg --mntns "/proc/$holder/ns/mnt" -- /bin/keel run /bench/nocg.ini
    one $kind crun_nocg -- crun --cgroup-manager=disabled run --bundle /bench/bundle-nocg nocg$i
    one $kind floor -- /bench/floor /run/bench/floor /layers/over:/layers/base /bin/true
    one $kind floor_iso -- /bench/floor -i /run/bench/floor /layers/over:/layers/base /bin/true
    # What starting the binary costs before any container work (the exec of a
    # static binary of keel's size under TCG).
    one $kind keel_version -- /bin/keel version
    i=$((i + 1))
done
# keel's own lines of the last run of each kind (its stage lines say where the time went).
for k in keel_cg keel_nocg; do
    tail -n 12 "/run/bench/$k.log" | sed "s/^/VMBENCH log $k /"
done
# The cgroups the runs made are gone again (keel's and crun's).
left=$(ls -d /sys/fs/cgroup/keel.* /sys/fs/cgroup/cg[0-9]* 2>/dev/null)
[ -z "$left" ] || echo "VMBENCH note cgroups left: $left"

# --- keel start / restart after a crash, against the floor's clone-to-exec ---------
export KEEL_HOST=unix:///run/bench/ctl.sock
slog=/run/bench/log/s.log rlog=/run/bench/log/r.log
sslog=/run/bench/log/ss.log srlog=/run/bench/log/sr.log
/bin/keel run /bench/startlat.ini > /run/bench/keel-startlat.log 2>&1 &
kpid=$!
# standbys: how many of keel's standbys (children alone in a PID namespace
# of their own, running keel while prepared, then the exec stub they wait
# in) sleep in their pipe read; -1 while one is busy.  Both (ss's and sr's) before each of their rounds: every sample is a
# release (docs/operations.md, "Standby").
standbys() {
    n=0
    for c in $(cat /proc/$kpid/task/*/children 2>/dev/null); do
        grep -q "^Name:.keel$" /proc/$c/status 2>/dev/null ||
            case $(readlink /proc/$c/exe 2>/dev/null) in *keel-stub*) ;; *) continue ;; esac
        set -- $(sed -n 's/^NSpid://p' /proc/$c/status 2>/dev/null)
        [ $# = 2 ] && [ "$2" = 1 ] || continue
        case $(cat /proc/$c/wchan 2>/dev/null) in
        *pipe_read*|*pipe_wait*) n=$((n + 1)) ;;
        *) echo -1; return ;;
        esac
    done
    echo $n
}
two_standbys() { [ "$(standbys)" = 2 ]; }
count() {
    c=$(grep -c "stamp $2" "$1" 2>/dev/null)
    echo "${c:-0}"
}
nth() { sed -n "s/^stamp $2 \([0-9]*\)$/\1/p" "$1" | sed -n "$3p"; }
# wait_for CMD...: polls (every 0.1 s, at most 30 s) until CMD succeeds.
wait_for() {
    n=0
    until "$@"; do
        n=$((n + 1))
        [ $n -lt 300 ] || fail "startlat: no $* within 30 s: $(tail -n 3 /run/bench/keel-startlat.log | tr '\n' ' ')"
        nap 0.1
    done
}
status() { /bin/keel status "$1" 2>/dev/null | sed -n "s/^$2  *//p"; }
has_more() { [ "$(count "$1" "$2")" -gt "$3" ]; }
is_state() { [ "$(status "$1" state)" = "$2" ]; }
wait_for has_more "$slog" start 0
wait_for has_more "$rlog" start 0
wait_for has_more "$sslog" start 0
wait_for has_more "$srlog" start 0
i=0
while [ $i -lt $((WARMUP + RUNS)) ]; do
    kind=sample
    [ $i -lt "$WARMUP" ] && kind=warm
    # keel start s: the request's clock (stamp request) to s's first instruction.
    wait_for is_state s exited
    k=$(count "$slog" start)
    t0=$(/bench/stamp request /run/bench/ctl.sock s | sed -n 's/^stamp request //p')
    [ -n "$t0" ] || fail "startlat: keel start s was refused"
    nap 0.5
    wait_for has_more "$slog" start "$k"
    echo "VMBENCH $kind start $(( $(nth "$slog" start $((k + 1))) - t0 ))"
    # The floor: clone to the same program's first instruction.
    out=$(/bench/floor -t /run/bench/floor /layers/stamp:/layers/over:/layers/base /stamp) ||
        fail "startlat: floor -t: $out"
    a=$(echo "$out" | sed -n 's/^floor clone //p') b=$(echo "$out" | sed -n 's/^stamp start //p')
    echo "VMBENCH $kind floor_exec $((b - a))"
    # The isolated floor (floor -i): what keel start's setup must do too.
    out=$(/bench/floor -i -t /run/bench/floor /layers/stamp:/layers/over:/layers/base /stamp) ||
        fail "startlat: floor -i -t: $out"
    a=$(echo "$out" | sed -n 's/^floor clone //p') b=$(echo "$out" | sed -n 's/^stamp start //p')
    echo "VMBENCH $kind floor_iso_exec $((b - a))"
    # r crashes (exits 1 on SIGUSR1) and is restarted at once (restart_delay = 0ms).
    wait_for is_state r running
    k=$(count "$rlog" start)
    kill -USR1 "$(status r pid)" || fail "startlat: cannot signal r"
    nap 0.5
    wait_for has_more "$rlog" start "$k"
    echo "VMBENCH $kind restart $(( $(nth "$rlog" start $((k + 1))) - $(nth "$rlog" exit "$k") ))"
    # The same two with standby = yes.
    wait_for is_state ss exited
    wait_for two_standbys
    k=$(count "$sslog" start)
    t0=$(/bench/stamp request /run/bench/ctl.sock ss | sed -n 's/^stamp request //p')
    [ -n "$t0" ] || fail "startlat: keel start ss was refused"
    nap 0.5
    wait_for has_more "$sslog" start "$k"
    echo "VMBENCH $kind sb_start $(( $(nth "$sslog" start $((k + 1))) - t0 ))"
    wait_for is_state sr running
    wait_for two_standbys
    k=$(count "$srlog" start)
    kill -USR1 "$(status sr pid)" || fail "startlat: cannot signal sr"
    nap 0.5
    wait_for has_more "$srlog" start "$k"
    echo "VMBENCH $kind sb_restart $(( $(nth "$srlog" start $((k + 1))) - $(nth "$srlog" exit "$k") ))"
    i=$((i + 1))
done
echo "VMBENCH done"
poweroff -f
exec sleep 1000000
