#!/bin/bash
# vmbench.sh WARMUP RUNS — the benchmark's VM section (run by bench.py, inside
# the bench namespaces): one boot of Debian's kernel under QEMU -accel tcg with
# an initramfs whose /init (a busybox shell script, tests/bench/vm-init.sh)
# mounts cgroup2 with its controllers offered at the root, as keel's boot
# does, and then alternates, WARMUP uncounted and RUNS counted rounds of:
#
#   keel_cg     keel run of /bin/true, a cgroup per container (keel's run-mode
#               subtree below the root cgroup) with memory = 64M, pids = 64,
#               cpus = 0.5
#   crun_cg     crun run of the same, cgroup v2 through the cgroupfs manager,
#               the same limits in config.json (memory.max, pids.max, cpu.max)
#   keel_nocg   keel run without cgroups: in a mount namespace where cgroup2 is
#               not mounted (keel then runs containers without one)
#   crun_nocg   crun --cgroup-manager=disabled run
#   floor       tests/bench/floor.c (clone into five namespaces, overlay,
#               pivot_root, exec), the same layers
#   floor_iso   floor -i: the floor with a default keel container's isolation
#   keel_version  keel version: what the binary's own start costs
#   start, restart, floor_exec   keel start NAME (request to the container's
#               first instruction), a restart after a crash (exit to first
#               instruction) under one running keel run, and the floor's
#               clone-to-exec (tests/bench/stamp.c, floor -t), as bench.py's
#               startlat section does on the host
#   floor_iso_exec   floor -i -t: the isolated floor's clone-to-exec
#   sb_start, sb_restart   the same two with standby = yes (ss, sr): each
#               round waits until both standbys sleep in their pipe read
#
# Each timed with tests/bench/stopwatch (start-to-exit) in the guest, printed
# on the serial console as "VMBENCH NAME NS"; this script prints one NAME=MS
# line per counted sample on stdout, progress on stderr.  The same container
# everywhere: the bench's two busybox layers (tests/tools/mklayers), a tmpfs
# upper (crun: an overlay mounted once before the runs, bound by crun), PID,
# mount, UTS, IPC, network and cgroup namespaces, keel's default capabilities,
# no seccomp.  crun (dynamic) comes with the libraries ldd names.
#
# Exit status 0 when the guest printed "VMBENCH done".
set -u
here=$(cd "$(dirname "$0")" && pwd)
REPO=${REPO:-$(cd "$here/../.." && pwd)}
warmup=${1:-1} runs=${2:-5}
cd "$REPO" || exit 1
. tests/vm/lib.sh
KEEL=${KEEL:-$REPO/build/keel}
BIN=$REPO/build/bench/bin
out=$REPO/build/bench/vm
say() { echo "  vm: $*" >&2; }
die() { echo "vmbench.sh: error: $*" >&2; vm_stop 2>/dev/null; exit 1; }
mkdir -p "$out"
for t in stopwatch floor stamp; do
    [ -x "$BIN/$t" ] || die "no $BIN/$t (tests/bench/run builds it)"
done
crun=$(command -v crun) || die "crun is not installed (make deps-bench)"

# --- the image: mkinitramfs for the layers and overlay.ko, then our /init -------------
man=$out/image.ini
cat > "$man" <<'INI'
[system]
modules = overlay

[container c]
layers = /layers/over:/layers/base
command = /bin/true
INI
initramfs/mkinitramfs --keel "$KEEL" --manifest "$man" --out "$out/base.cpio" >&2 2>"$out/mkinitramfs.log" ||
    die "cannot build the image: $(tail -n 3 "$out/mkinitramfs.log")"
root=$out/root
rm -rf "$root"
mkdir -p "$root"
(cd "$root" && cpio --quiet -id < "$out/base.cpio") || die "cannot unpack the image"
rm -f "$root/init" "$root/etc/keel/keel.ini"
mkdir -p "$root/bin" "$root/bench" "$root/proc" "$root/sys" "$root/dev" "$root/run" "$root/tmp" "$root/newroot" \
    "$root/layers/stamp"
cp "$KEEL" "$root/bin/keel"
cp /bin/busybox "$root/bin/busybox"
for a in sh mount umount mkdir cat echo sleep unshare poweroff grep sed tail insmod rm ls chroot mkfifo tr readlink; do
    ln -sf busybox "$root/bin/$a"
done
cp "$BIN/stopwatch" "$BIN/floor" "$BIN/stamp" "$root/bench/"
cp "$BIN/stamp" "$root/layers/stamp/stamp"
cp "$here/vm-init.sh" "$root/init"
chmod 0755 "$root/init"
[ -e "$root/dev/console" ] || mknod -m 600 "$root/dev/console" c 5 1
ovl=$(cd "$root" && find lib/modules -name 'overlay.ko*' | head -n 1)
case $ovl in
*.ko) echo "/$ovl" > "$root/bench/overlay.path" ;;
*) die "no uncompressed overlay.ko in the image (found '$ovl')" ;;
esac
# crun and its libraries, at their paths (the dynamic loader included).
mkdir -p "$root/usr/bin"
cp "$crun" "$root/usr/bin/crun"
for lib in $(ldd "$crun" | grep -oE '/[^ ]+'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done

# The manifests keel runs in the guest (WORK is /run/bench there).
ctr() { # NAME COMMAND [KEY=VALUE]...
    local name=$1 cmd=$2 kv
    shift 2
    printf '\n[container %s]\nlayers = %s\nupper = tmpfs\ncommand = %s\nnetwork = none\nseccomp = unconfined\n' \
        "$name" "${LAYERS_IN:-/layers/over:/layers/base}" "$cmd"
    for kv in "$@"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"; done
}
sys='[system]
log_dir = /run/bench/log
stop_timeout = 2
'
{ echo "$sys"; ctr c /bin/true main=yes memory=64M pids=64 cpus=0.5; } > "$root/bench/cg.ini"
{ echo "$sys"; ctr c /bin/true main=yes; } > "$root/bench/nocg.ini"
# The check before the rounds (positive control): the container reads its limits.
check_cmd="/bin/sh -c 'echo cgroup \$(cat /proc/self/cgroup); for f in memory.max pids.max cpu.max; do echo \$f \$(cat /sys/fs/cgroup/\$f); done'"
{ echo "$sys"; ctr c "$check_cmd" main=yes memory=64M pids=64 cpus=0.5; } > "$root/bench/cgcheck.ini"
{
    echo "${sys}control = unix:///run/bench/ctl.sock"
    LAYERS_IN=/layers/stamp:/layers/over:/layers/base
    ctr idle "/bin/sleep 1000000"
    ctr s /stamp
    ctr r "/stamp crash" restart=always restart_delay=0ms
    ctr ss /stamp standby=yes
    ctr sr "/stamp crash" restart=always restart_delay=0ms standby=yes
} > "$root/bench/startlat.ini"
for m in cg nocg cgcheck startlat; do
    # In the image's root: keel check looks at the layers.
    chroot "$root" /bin/keel check "/bench/$m.ini" >/dev/null 2>"$out/check.log" ||
        die "keel check rejects the guest's $m.ini: $(head -n 3 "$out/check.log")"
done

# The OCI bundles: crun spec adjusted as bench.py's Peers does, the root an
# overlay the guest mounts once at /bench/rootfs; with and without limits.
(cd "$out" && rm -f config.json && crun spec) || die "crun spec failed"
/usr/bin/python3 - "$out/config.json" "$root/bench" <<'PY' || die "cannot write the bundles"
import json, os, sys
CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
caps = c["process"]["capabilities"]
for k in ("bounding", "effective", "permitted"):
    caps[k] = list(CAPS)
caps["inheritable"] = []
caps["ambient"] = []
c["root"] = {"path": "/bench/rootfs", "readonly": False}
c["hostname"] = "c"
# keel gives every container a cgroup namespace too (container.c).
c["linux"]["namespaces"] = [{"type": t} for t in ("pid", "mount", "uts", "ipc", "network", "cgroup")]
c["linux"].pop("resources", None)
limits = {"memory": {"limit": 64 << 20}, "pids": {"limit": 64}, "cpu": {"quota": 50000, "period": 100000}}
check = ["/bin/sh", "-c", "echo cgroup $(cat /proc/self/cgroup); "
         "for f in memory.max pids.max cpu.max; do echo $f $(cat /sys/fs/cgroup/$f); done"]
for name, res, args in (("bundle-nocg", None, ["/bin/true"]), ("bundle-cg", limits, ["/bin/true"]),
                        ("bundle-cgcheck", limits, check)):
    c["process"]["args"] = args
    d = os.path.join(sys.argv[2], name)
    os.makedirs(d, exist_ok=True)
    if res:
        c["linux"]["resources"] = res
    else:
        c["linux"].pop("resources", None)
    json.dump(c, open(os.path.join(d, "config.json"), "w"), indent=1)
PY
printf 'WARMUP=%s\nRUNS=%s\n' "$warmup" "$runs" > "$root/bench/rounds"
vm_cpio "$root" "$out/vmbench.cpio" || die "cannot write the image"
say "image $(( $(wc -c < "$out/vmbench.cpio") / 1024 )) KiB; booting (1 CPU, TCG)"

# --- one boot --------------------------------------------------------------------------
t0=$SECONDS
vm_start vmbench "$out/vmbench.cpio" "" || die "cannot start QEMU"
limit=${VMBENCH_TIMEOUT:-420}
if ! vm_wait 'VMBENCH (done|error)' "$limit"; then
    cp "$VM_CONSOLE" "$out/console" 2>/dev/null
    tail -n 20 "$VM_CONSOLE" >&2
    die "the guest did not finish within $limit s"
fi
vm_wait_end 30 >/dev/null
cp "$VM_CONSOLE" "$out/console"
vm_stop
if grep -aq 'VMBENCH error' "$out/console"; then
    grep -a 'VMBENCH error' "$out/console" | head -n 3 >&2
    tail -n 20 "$out/console" >&2
    die "a run failed in the guest (console: $out/console)"
fi
# The positive control: both sides ran the check container under the limits.
for side in keel crun; do
    for want in "memory.max 67108864" "pids.max 64" "cpu.max 50000 100000"; do
        tr -d '\r' < "$out/console" | grep -q "^VMBENCH check $side $want\$" ||
            die "$side's check container did not read '$want' (console: $out/console)"
    done
done
say "guest done after $((SECONDS - t0)) s"
tr -d '\r' < "$out/console" | awk '$1 == "VMBENCH" && $2 == "sample" { printf "%s=%.3f\n", $3, $4 / 1e6 }'
exit 0
